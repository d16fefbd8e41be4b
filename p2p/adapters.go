package p2p

import (
	"net/netip"

	"github.com/peerwire/peerwire/filter"
)

// Adapters that hand the filter to the peer set (its per-IP counter) and
// to the book (its admission questions).

// counter adapts the filter's caps to peerset.Counter.
type counter struct{ f *filter.Filter }

func (c counter) Acquire(ip netip.Addr) (func(), bool, string) {
	release, d := c.f.Acquire(ip)
	if !d.Allowed() {
		return nil, false, d.Reason.String()
	}
	return release, true, ""
}

func (c counter) AcquireExempt(ip netip.Addr) func() { return c.f.AcquireExempt(ip) }

// bookFilter adapts the filter's rules to peerbook.AddrFilter.
type bookFilter struct{ f *filter.Filter }

func (b bookFilter) AllowPEX(ip netip.Addr) (bool, string) {
	d := b.f.Check(ip, filter.PEX)
	return d.Allowed(), d.Reason.String()
}

func (b bookFilter) AllowDial(ip netip.Addr) (bool, string) {
	d := b.f.CheckRules(ip)
	return d.Allowed(), d.Reason.String()
}
