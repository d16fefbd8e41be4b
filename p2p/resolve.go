package p2p

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/peerbook"
)

// Resolver looks up the IP addresses of a DNS name. *net.Resolver
// implements it (net.DefaultResolver is the default); tests inject their
// own. Implementations must be safe for concurrent use and must return
// once ctx ends.
type Resolver interface {
	// LookupNetIP returns the addresses of host; network is "ip", "ip4"
	// or "ip6".
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// origin says who chose an address to dial, and so which rules the
// addresses its name resolves to must pass.
type origin uint8

const (
	// byOperator: Config.Bootstrap, Config.MustConnect, Dial and
	// AddMustConnect, and book entries from them. Names are dialed, and
	// routability is the operator's call, as for the IP addresses typed.
	byOperator origin = iota
	// byNetwork: addresses peers reported (PEX, inbound adverts). A name is
	// dialed only with Book.AllowNetworkNames, and each address it resolves
	// to must be routable under the book's rules, as a reported IP must be.
	byNetwork
	// byLocal: addresses found on the local network by mDNS
	// (peerbook.SourceLocal): as byNetwork, except that private addresses
	// are routable (peerbook.Book.CheckLocalIP).
	byLocal
)

// dialCheck says which checks the addresses of one dial must pass.
type dialCheck struct {
	origin origin
	must   bool // a must-connect peer: rules and bans, no caps or peer-set limits
	probe  bool // a churn probe: admits nobody, so no peer-set limits
	// transient: a dial for one DHT query; the address is not added to
	// the book (the DHT's findings reach it as source dht, checked).
	transient bool
}

// originOf says who chose addr, an address picked from the book.
func (n *Node) originOf(addr crypto.Address) origin {
	e, ok := n.book.Get(addr.ID)
	if ok && e.Addr == addr && (e.Protected || e.Source.Kind == peerbook.SourceBootstrap || e.Source.Kind == peerbook.SourceManual) {
		return byOperator
	}
	if ok && e.Addr == addr && e.Source.Kind == peerbook.SourceLocal {
		return byLocal
	}
	return byNetwork
}

// targets returns the addresses to dial for addr, every one checked by
// checkTarget: an IP host is itself; a DNS name is resolved once, here,
// and the caller must dial only what targets returns, so a second lookup
// (DNS rebinding) cannot move the dial elsewhere. A name is refused
// outright, unresolved, when peers reported it and Book.AllowNetworkNames
// is off. One address refused refuses the dial.
func (n *Node) targets(ctx context.Context, addr crypto.Address, c dialCheck) ([]netip.AddrPort, error) {
	if ap, ok := addr.AddrPort(); ok {
		if err := n.checkTarget(addr.ID, ap.Addr(), c); err != nil {
			return nil, err
		}
		return []netip.AddrPort{ap}, nil
	}
	if c.origin != byOperator && !n.s.Book.AllowNetworkNames {
		return nil, fmt.Errorf("%w: %s: %w", ErrFiltered, addr.Host, peerbook.ErrNetworkName)
	}
	ips, err := n.resolve(ctx, addr.Host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.AddrPort, len(ips))
	for i, ip := range ips {
		if err := n.checkTarget(addr.ID, ip, c); err != nil {
			return nil, fmt.Errorf("%s resolves to %v: %w", addr.Host, ip, err)
		}
		out[i] = netip.AddrPortFrom(ip, addr.Port)
	}
	return out, nil
}

// checkTarget applies to ip, an address about to be dialed for the peer id
// (zero when unknown), everything a dial must pass: the filter's rules,
// its caps (not for must-connect peers), IP bans, the book's routability
// rules for addresses peers reported, and the peer set's outbound limits
// and one-peer-per-group rule (not for must-connect peers or probes).
func (n *Node) checkTarget(id crypto.ID, ip netip.Addr, c dialCheck) error {
	if d := n.filter.CheckRules(ip); !d.Allowed() {
		return fmt.Errorf("%w: %s", ErrFiltered, d)
	}
	if !c.must {
		if d := n.filter.Check(ip, filter.Outbound); !d.Allowed() {
			return fmt.Errorf("%w: %s", ErrFiltered, d)
		}
	}
	if n.book.IsIPBanned(ip) {
		return ErrBanned
	}
	switch c.origin {
	case byNetwork:
		if err := n.book.CheckIP(ip); err != nil {
			return fmt.Errorf("%w: %w", ErrFiltered, err)
		}
	case byLocal:
		if err := n.book.CheckLocalIP(ip); err != nil {
			return fmt.Errorf("%w: %w", ErrFiltered, err)
		}
	}
	if !c.must && !c.probe && !c.transient { // a transient dial takes no slot (transient.go)
		if err := n.set.CheckDial(id, ip, n.s.Now()); err != nil {
			return fmt.Errorf("%w: %w", ErrRefused, err)
		}
	}
	return nil
}

// resolve looks host up once, within ResolveTimeout, and returns its
// first maxResolvedAddrs distinct addresses (IPv4-mapped ones unmapped);
// the rest are dropped unread.
func (n *Node) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, n.s.ResolveTimeout)
	defer cancel()
	ips, err := n.s.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("p2p: resolving %q: %w", host, err)
	}
	out := make([]netip.Addr, 0, min(len(ips), maxResolvedAddrs))
	for _, ip := range ips {
		if len(out) == maxResolvedAddrs {
			break
		}
		if ip = ip.Unmap(); !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("p2p: resolving %q: no addresses", host)
	}
	return out, nil
}
