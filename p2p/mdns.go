package p2p

import (
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/discovery/mdns"
	"github.com/peerwire/peerwire/peerbook"
)

// MDNSConfig configures discovery on the local network by multicast DNS
// (package discovery/mdns). It is off unless Enabled.
//
// With it on, the node answers queries for its network's service
// (mdns.ServiceName(NetworkID)) with its listen addresses (the advertised
// ones, or, for a listener on 0.0.0.0 or ::, the interface's addresses
// with the listen port), and queries the LAN every Interval. Each answer
// is a hint: its addresses go into the peer book under the local source
// (peerbook.SourceLocal: at most peerbook.MaxLocal entries, never shared
// through PEX, private addresses admitted, DNS names only with
// AllowNetworkNames, the filter, bans and our own ID checked) and are
// dialed like any book entry, through the ID-pinned handshake. A local
// entry heard of no more, and not reached, for mdns.ExpireRounds
// intervals leaves the book.
type MDNSConfig struct {
	// Enabled turns mDNS discovery on.
	Enabled bool
	// Interval is how often the node queries (mdns.MinInterval-
	// mdns.MaxInterval, default mdns.DefaultInterval), on Config.Clock.
	Interval time.Duration
	// QueryTimeout is how long each query listens for answers (default
	// mdns.DefaultQueryTimeout, or Interval/2 when shorter).
	QueryTimeout time.Duration
	// Interface names the network interface to use (e.g. "eth0"). Empty:
	// the system's default multicast interface. Start fails, naming this
	// field, if it does not exist.
	Interface string
}

// mdnsState is the node's running mDNS discovery, nil when off.
type mdnsState struct {
	svc     *mdns.Service
	added   atomic.Uint64 // hints stored in the book (new or refreshed)
	refused atomic.Uint64 // hints the book refused
	expired atomic.Uint64 // local entries aged out
}

// MDNSStats counts what mDNS discovery did since Start.
type MDNSStats struct {
	mdns.Stats
	Added   uint64 // addresses the book took: stored, refreshed, or ignored as a second address of a known peer
	Refused uint64 // addresses the book refused: unroutable, a name, filtered, banned, ours, the local cap
	Expired uint64 // local entries aged out
}

// MDNSStats returns the counters of mDNS discovery, and false when it is
// off or the node has not started.
func (n *Node) MDNSStats() (MDNSStats, bool) {
	m := n.mdns.Load()
	if m == nil {
		return MDNSStats{}, false
	}
	return MDNSStats{Stats: m.svc.Stats(), Added: m.added.Load(), Refused: m.refused.Load(), Expired: m.expired.Load()}, true
}

func (c *MDNSConfig) check() error {
	if !c.Enabled {
		return nil
	}
	if c.Interval != 0 && (c.Interval < mdns.MinInterval || c.Interval > mdns.MaxInterval) {
		return fieldErr("MDNS.Interval", "%v is outside %v-%v", c.Interval, mdns.MinInterval, mdns.MaxInterval)
	}
	iv := c.Interval
	if iv == 0 {
		iv = mdns.DefaultInterval
	}
	if c.QueryTimeout != 0 && (c.QueryTimeout < mdns.MinQueryTimeout || c.QueryTimeout > iv) {
		return fieldErr("MDNS.QueryTimeout", "%v is outside %v-%v (the interval)", c.QueryTimeout, mdns.MinQueryTimeout, iv)
	}
	return nil
}

// startMDNS starts mDNS discovery when configured; Start calls it once
// listening, and the service stops with the node.
func (n *Node) startMDNS() error {
	c := n.s.MDNS
	if !c.Enabled {
		return nil
	}
	var iface *net.Interface
	if c.Interface != "" {
		var err error
		if iface, err = net.InterfaceByName(c.Interface); err != nil {
			return fieldErr("MDNS.Interface", "%q: %v", c.Interface, err)
		}
	}
	interval := c.Interval
	if interval == 0 {
		interval = mdns.DefaultInterval
	}
	adv := n.mdnsAddrs(iface)
	if n.ln != nil && len(adv) == 0 {
		n.log.Warn("mDNS: listening on an unspecified address, but the interface has no address to announce; querying only",
			"listen", n.ln.Addr().String(), "interface", c.Interface)
	}
	m := &mdnsState{}
	svc, err := mdns.Start(mdns.Config{
		NetworkID: n.s.NetworkID, Self: n.ID(), Advertise: adv,
		Interface: iface, Interval: interval, QueryTimeout: c.QueryTimeout,
		OnAnswer: func(addrs []crypto.Address) { n.mdnsAnswer(m, addrs) },
		OnRound: func() {
			m.expired.Add(uint64(n.book.ExpireLocal(mdns.ExpireRounds * interval)))
		},
		Clock: n.s.serviceClock, Logger: n.s.Logger.With("component", "mdns"),
	})
	if err != nil {
		return fmt.Errorf("p2p: Config.MDNS: %w", err)
	}
	m.svc = svc
	n.mdns.Store(m)
	n.spawn(func() {
		<-n.ctx.Done()
		svc.Close()
	})
	return nil
}

// mdnsAnswer stores the addresses of one answer as local hints. The book
// applies the rules (peerbook.Book.Add with SourceLocal); the fill
// service dials them like any entry, expecting the ID they came with.
func (n *Node) mdnsAnswer(m *mdnsState, addrs []crypto.Address) {
	for _, a := range addrs {
		if err := n.book.Add(a, peerbook.Source{Kind: peerbook.SourceLocal}); err != nil {
			m.refused.Add(1)
			n.log.Debug("mDNS hint not stored", "addr", a.String(), "err", err)
			continue
		}
		m.added.Add(1)
	}
}

// mdnsAddrs returns what the responder announces: the advertised
// addresses, else the listen address, or, when the listener is on an
// unspecified host, the addresses of iface (nil: every multicast
// interface) of the listener's family with its port. Nothing when not
// listening.
func (n *Node) mdnsAddrs(iface *net.Interface) []crypto.Address {
	if n.ln == nil {
		return nil
	}
	var out []crypto.Address
	add := func(hostport string) {
		if a, err := crypto.ParseAddress(n.ID().String() + "@" + hostport); err == nil && len(out) < mdns.MaxTXTAddrs {
			out = append(out, a)
		}
	}
	for _, hp := range n.s.advertise {
		add(hp)
	}
	if len(out) > 0 {
		return out
	}
	ap := n.ln.Addr().(*net.TCPAddr).AddrPort()
	if !ap.Addr().IsUnspecified() {
		add(ap.String())
		return out
	}
	v4only := ap.Addr().Unmap().Is4()
	for _, ip := range mdns.InterfaceIPs(iface) {
		if v4only && !ip.Is4() {
			continue
		}
		add(netip.AddrPortFrom(ip, ap.Port()).String())
	}
	return out
}
