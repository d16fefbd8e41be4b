package p2p

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// EventKind says what happened to a peer.
type EventKind uint8

// Event kinds.
const (
	// EventConnected: the peer is connected (admitted), where it was not.
	// A connection that replaces the peer's older one (the duplicate rule)
	// is no new arrival and is not reported.
	EventConnected EventKind = iota + 1
	// EventDisconnected: the peer is no longer connected. It follows the
	// peer's EventConnected, never precedes it, and is not sent for a
	// connection a newer one of the same peer replaced; when the peer's
	// connection ends while another of it is being set up, the event
	// waits for that one's outcome.
	EventDisconnected
	EventBanned
	// EventExternalAddress: the port mapping's external address changed
	// (Config.NAT); Addr is the new one, zero when the mapping was lost.
	EventExternalAddress
	// EventObservedAddress: the address peers see the node at changed
	// (Node.ObservedAddrs), in one address family; Addr is the new one,
	// zero when no quorum agrees any more, and Reason the family ("ipv4"
	// or "ipv6").
	EventObservedAddress
	// EventReachability: the dial-back verdict or the verified addresses
	// changed (Node.Reachability, dialback.go); Reason is the verdict
	// ("public", "private", "unknown"), Addr the first verified address
	// (zero when none).
	EventReachability
)

func (k EventKind) String() string {
	switch k {
	case EventConnected:
		return "connected"
	case EventDisconnected:
		return "disconnected"
	case EventBanned:
		return "banned"
	case EventExternalAddress:
		return "external-address"
	case EventObservedAddress:
		return "observed-address"
	case EventReachability:
		return "reachability"
	}
	return "unknown"
}

// Event is a change in the node's peers.
type Event struct {
	Kind      EventKind
	Peer      crypto.ID
	Direction string // "inbound" or "outbound" for connect and disconnect
	Reason    string // why a peer left or was banned
	// Prefix is the banned IP prefix of an IP ban (BanIP, or the
	// automatic one); Peer is then zero.
	Prefix netip.Prefix
	// Addr is the new address of an EventExternalAddress or an
	// EventObservedAddress.
	Addr netip.AddrPort
	Time time.Time
}

// Subscription receives events until it is cancelled or the node stops.
type Subscription struct {
	// C delivers events; it is closed by Cancel or at Stop.
	C <-chan Event
	c chan Event
	h *eventHub
	// dropped counts events that did not fit in C because the reader lagged.
	dropped atomic.Uint64
}

// Dropped returns how many events were lost because C was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Cancel ends the subscription and closes C.
func (s *Subscription) Cancel() { s.h.remove(s) }

// eventHub fans events out to subscribers without ever blocking the node.
type eventHub struct {
	mu     sync.Mutex // guards the fields below
	subs   map[*Subscription]struct{}
	closed bool
}

// Subscribe returns a subscription to connect, disconnect and ban events.
// Each subscriber has a buffer of 256 events; a subscriber that falls
// further behind loses events and Dropped says how many.
func (n *Node) Subscribe() *Subscription {
	c := make(chan Event, eventBuffer)
	s := &Subscription{C: c, c: c, h: &n.events}
	n.events.mu.Lock()
	defer n.events.mu.Unlock()
	if n.events.closed {
		close(c)
		return s
	}
	if n.events.subs == nil {
		n.events.subs = map[*Subscription]struct{}{}
	}
	n.events.subs[s] = struct{}{}
	return s
}

func (h *eventHub) publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.c <- e:
		default:
			s.dropped.Add(1)
		}
	}
}

func (h *eventHub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.c)
	}
}

func (h *eventHub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		close(s.c)
	}
	h.subs = nil
}
