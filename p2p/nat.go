package p2p

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/proto/pb"
)

// natState is the node's side of port mapping (Config.NAT): the external
// address the mapper holds and the handshake configuration that
// advertises it.
type natState struct {
	// secure, once the mapper has reported an address, replaces
	// Node.secure: the same configuration with the listen addresses of
	// the handshake metadata rebuilt. Handshakes load it once each.
	secure atomic.Pointer[conn.SecureConfig]

	mu  sync.Mutex // guards ext and serialises rebuilds of secure
	ext netip.AddrPort
}

// secureConfig returns the handshake configuration in force: the one with
// the mapped address when there is one.
func (n *Node) secureConfig() *conn.SecureConfig {
	if s := n.nat.secure.Load(); s != nil {
		return s
	}
	return n.secure
}

// ExternalAddr returns the address the port mapping (Config.NAT) holds on
// the gateway, or the zero AddrPort when there is none.
func (n *Node) ExternalAddr() netip.AddrPort {
	n.nat.mu.Lock()
	defer n.nat.mu.Unlock()
	return n.nat.ext
}

// secureWith returns the node's handshake configuration with meta.
func (n *Node) secureWith(meta *pb.PeerMeta) *conn.SecureConfig {
	return &conn.SecureConfig{Identity: n.id, NetworkID: n.s.NetworkID, ChainID: n.s.ChainID, Meta: meta,
		HandshakeTimeout: n.s.HandshakeTimeout, Clock: n.s.connClock}
}

// startNAT starts the mapper for the listen port; called by Start once the
// handshake configuration is built.
func (n *Node) startNAT() {
	m := n.s.NAT
	if m == nil {
		return
	}
	if n.ln == nil {
		n.log.Warn("Config.NAT ignored: the node does not listen", "nat", m.String())
		return
	}
	if err := m.Start(n.listen.Port, n.onExternal); err != nil {
		n.log.Warn("port mapping did not start", "nat", m.String(), "err", err)
	}
}

// stopNAT closes the mapper: the mapping is removed and the mapper's
// goroutines have ended when it returns.
func (n *Node) stopNAT() {
	if m := n.s.NAT; m != nil {
		_ = m.Close()
	}
}

// onExternal is the mapper's notify: it rebuilds the advertised listen
// addresses (the configured ones plus ID@external, none when the mapping
// is lost, plus the verified observed ones), publishes
// EventExternalAddress and asks for a reachability check.
func (n *Node) onExternal(addr netip.AddrPort) {
	n.nat.mu.Lock()
	n.nat.ext = addr
	ok := n.storeAdverts() // dialback.go: with the verified observed addresses
	n.nat.mu.Unlock()
	if !ok {
		return
	}
	n.kickReachability()
	a := ""
	if addr.IsValid() {
		a = addr.String()
	}
	n.log.Info("external address changed", "nat", n.s.NAT.String(), "external", a)
	n.events.publish(Event{Kind: EventExternalAddress, Addr: addr, Time: n.s.Now()})
}
