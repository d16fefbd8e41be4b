package p2p

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/peerwire/peerwire/crypto"
)

// listenAddrs resolves Config.ListenAddr and Config.ListenAddrs into the
// addresses to listen on: nil when the node does not listen.
//
// ListenAddr is the one-address form, kept: ListenAddr "x" is ListenAddrs
// {"x"}, and "-" (no listener) is said only with it. Setting both is an
// error; neither means the default, 0.0.0.0:26656.
func (c *Config) listenAddrs() ([]string, error) {
	if c.ListenAddr != "" && len(c.ListenAddrs) > 0 {
		return nil, fieldErr("ListenAddrs", "set either ListenAddr or ListenAddrs, not both (ListenAddr %q)", c.ListenAddr)
	}
	switch {
	case c.ListenAddr == "-":
		return nil, nil
	case c.ListenAddr != "":
		if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
			return nil, fieldErr("ListenAddr", "%q: %v", c.ListenAddr, err)
		}
		return []string{c.ListenAddr}, nil
	case len(c.ListenAddrs) == 0:
		return []string{"0.0.0.0:26656"}, nil
	}
	if len(c.ListenAddrs) > MaxListenAddrs {
		return nil, fieldErr("ListenAddrs", "%d addresses, at most %d", len(c.ListenAddrs), MaxListenAddrs)
	}
	seen := make(map[string]int, len(c.ListenAddrs))
	out := make([]string, 0, len(c.ListenAddrs))
	for i, a := range c.ListenAddrs {
		field := fmt.Sprintf("ListenAddrs[%d]", i)
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fieldErr(field, "%q: %v", a, err)
		}
		key := a
		if ip, err := netip.ParseAddr(host); err == nil {
			key = net.JoinHostPort(ip.Unmap().String(), port)
		}
		if j, dup := seen[key]; dup && port != "0" {
			return nil, fieldErr(field, "%q is also ListenAddrs[%d]", a, j)
		}
		seen[key] = i
		out = append(out, a)
	}
	return out, nil
}

// listenNetwork is the network a listener of addr binds when the node has
// several: an IPv6 literal binds IPv6 only ("tcp6", IPV6_V6ONLY), so that
// 0.0.0.0:p and [::]:p can both be bound; an IPv4 literal binds "tcp4".
// A single listener binds "tcp" as it always did ([::] then takes IPv4
// too, where the system allows).
func listenNetwork(addr string, several bool) string {
	if !several {
		return "tcp"
	}
	host, _, _ := net.SplitHostPort(addr)
	ip, err := netip.ParseAddr(host)
	switch {
	case err != nil:
		return "tcp"
	case ip.Is4() || ip.Is4In6():
		return "tcp4"
	}
	return "tcp6"
}

// openListeners binds every listen address, or none: on an error the ones
// already bound are closed. The first becomes Node.ln and Node.listen.
// Without -advertise (Config.AdvertiseAddrs), each listener bound to a
// specific address is advertised; one bound to 0.0.0.0 or :: is not, as
// no peer can dial it (see Node.AdvertisedAddrs).
func (n *Node) openListeners(ctx context.Context) error {
	addrs := n.s.listens
	lc := net.ListenConfig{}
	for i, a := range addrs {
		ln, err := lc.Listen(ctx, listenNetwork(a, len(addrs) > 1), a)
		if err != nil {
			n.closeListeners()
			n.reach.lns, n.reach.addrs = nil, nil
			if len(addrs) == 1 && len(n.s.Config.ListenAddrs) == 0 {
				return fmt.Errorf("p2p: Config.ListenAddr: %w", err)
			}
			return fmt.Errorf("p2p: Config.ListenAddrs[%d]: %w", i, err)
		}
		ap := ln.Addr().(*net.TCPAddr).AddrPort()
		n.reach.lns = append(n.reach.lns, ln)
		n.reach.addrs = append(n.reach.addrs, crypto.Address{ID: n.ID(), Host: ap.Addr().Unmap().String(), Port: ap.Port()})
	}
	if len(n.reach.lns) == 0 {
		return nil
	}
	n.ln, n.listen = n.reach.lns[0], n.reach.addrs[0]
	if len(n.s.advertise) == 0 {
		for i, ln := range n.reach.lns {
			ap := ln.Addr().(*net.TCPAddr).AddrPort()
			if !ap.Addr().IsUnspecified() {
				n.s.advertise = append(n.s.advertise, n.reach.addrs[i].HostPort())
			}
		}
	}
	return nil
}

// startAccepting starts one accept loop per listener.
func (n *Node) startAccepting() {
	for _, ln := range n.reach.lns {
		n.spawn(func() { n.acceptLoop(ln) })
	}
}

// closeListeners closes every listener; their accept loops end.
func (n *Node) closeListeners() {
	for _, ln := range n.reach.lns {
		_ = ln.Close()
	}
}

// ListenAddrs returns every address the node listens on, with its ID, in
// the order of Config.ListenAddrs; nil before Start or when not listening.
// ListenAddr is the first of them.
func (n *Node) ListenAddrs() []crypto.Address {
	return append([]crypto.Address(nil), n.reach.addrs...)
}

// AdvertisedAddrs returns the addresses the node tells peers to dial it at
// (its handshake's listen addresses): Config.AdvertiseAddrs, or else each
// listener bound to a specific address, plus the NAT mapping's external
// address while it holds. It is empty when the node has nothing dialable
// to offer, for instance when it listens only on 0.0.0.0 or :: with no
// external address. Nil before Start.
func (n *Node) AdvertisedAddrs() []crypto.Address {
	sc := n.secureConfig()
	if sc == nil {
		return nil
	}
	var out []crypto.Address
	for _, s := range sc.Meta.GetListenAddrs() {
		if a, err := crypto.ParseAddress(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// listenSummary is the listeners as "host:port,…" for the start log,
// without the ID: a wildcard listener is where the node accepts, not an
// address to hand out.
func (n *Node) listenSummary() string {
	parts := make([]string, len(n.reach.addrs))
	for i, a := range n.reach.addrs {
		parts[i] = a.HostPort()
	}
	return strings.Join(parts, ",")
}

// advertiseSummary is AdvertisedAddrs as "ID@host:port,…" for the start log.
func (n *Node) advertiseSummary() string {
	as := n.AdvertisedAddrs()
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.String()
	}
	return strings.Join(parts, ",")
}
