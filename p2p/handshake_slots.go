package p2p

import (
	"net"
	"net/netip"
	"sync"
)

// maxReservedPerIP is how many reserved handshake slots one address may
// hold at once: enough for a peer's redial racing its old connection's
// teardown, too few for one known address to take them all.
const maxReservedPerIP = 2

// openSlots are the inbound handshake slots open to anyone. When every
// one is taken, a newcomer takes the slot of the oldest connection still
// in its handshake, and that connection is closed. A flood of connections
// that never finish therefore cannot hold the slots for the handshake
// timeout: each lasts only until the slots have turned over once, which at
// the arrival rate the per-IP throttle lets through is far longer than an
// honest handshake takes. Only when every slot is past its handshake (its
// peer authenticated, its connection being set up) is a newcomer refused.
type openSlots struct {
	mu   sync.Mutex
	max  int
	held []*openSlot // oldest first
}

// openSlot is one connection's hold on an open slot.
type openSlot struct {
	raw     net.Conn
	settled bool // its handshake finished: it is no longer evicted
	gone    bool // released or evicted
	evicted bool // a newcomer took its slot and closed its connection
}

// take gives raw a slot, evicting the oldest unsettled one if none is
// free. It reports false when every slot is settled.
func (o *openSlots) take(raw net.Conn) (s *openSlot, ok bool) {
	s = &openSlot{raw: raw}
	o.mu.Lock()
	if len(o.held) < o.max {
		o.held = append(o.held, s)
		o.mu.Unlock()
		return s, true
	}
	for i, old := range o.held {
		if old.settled {
			continue
		}
		old.gone, old.evicted = true, true
		o.held = append(append(o.held[:i:i], o.held[i+1:]...), s)
		o.mu.Unlock()
		old.raw.Close() // its handshake fails and its release is a no-op
		return s, true
	}
	o.mu.Unlock()
	return nil, false
}

// wasEvicted reports whether s lost its slot to a newcomer.
func (o *openSlots) wasEvicted(s *openSlot) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return s.evicted
}

// settle marks s's handshake finished.
func (o *openSlots) settle(s *openSlot) {
	o.mu.Lock()
	s.settled = true
	o.mu.Unlock()
}

// release gives s's slot back, unless it was evicted.
func (o *openSlots) release(s *openSlot) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s.gone {
		return
	}
	s.gone = true
	for i, h := range o.held {
		if h == s {
			o.held = append(o.held[:i], o.held[i+1:]...)
			return
		}
	}
}

// len is how many slots are held.
func (o *openSlots) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.held)
}

// hsSlot is a connection's inbound handshake slot.
type hsSlot struct {
	release func()      // gives the slot back
	settle  func()      // the handshake finished: the slot can no longer be taken from it
	evicted func() bool // a newcomer took the slot (its handshake failed for that)
}

// handshakeSlot takes an inbound handshake slot for raw, a connection from
// ip: a reserved one if ip is known to the book and holds fewer than
// maxReservedPerIP of them, else an open one (openSlots, which may close
// an older connection's handshake to make room). It reports false when
// none can be had.
func (n *Node) handshakeSlot(ip netip.Addr, raw net.Conn) (hsSlot, bool) {
	ip = ip.Unmap()
	r := &n.reserved
	if cap(r.slots) > 0 && n.book.KnownIP(ip) {
		r.mu.Lock()
		if r.byIP[ip] < maxReservedPerIP {
			select {
			case r.slots <- struct{}{}:
				r.byIP[ip]++
				r.mu.Unlock()
				return hsSlot{release: func() {
					r.mu.Lock()
					if r.byIP[ip]--; r.byIP[ip] == 0 {
						delete(r.byIP, ip)
					}
					r.mu.Unlock()
					<-r.slots
				}, settle: func() {}, evicted: func() bool { return false }}, true
			default:
			}
		}
		r.mu.Unlock()
	}
	s, ok := n.open.take(raw)
	if !ok {
		return hsSlot{}, false
	}
	return hsSlot{release: func() { n.open.release(s) }, settle: func() { n.open.settle(s) },
		evicted: func() bool { return n.open.wasEvicted(s) }}, true
}
