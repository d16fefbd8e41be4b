package sim

import (
	"net/netip"
	"time"

	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
)

// connect completes a dial from honest d to t: t admits it as inbound (an
// attacker always does), then d admits it as outbound, as the two nodes'
// setupPeer do. A connection one side refuses ends at once. The dialer's
// book then records what a real dialer's does: a refusal before the
// handshake is a failed dial; after it the address was reached
// (MarkSuccess), and a "too many peers" answer backs it off as well
// (MarkRefused, p2p's onClose).
func (s *Sim) connect(d, t *endpoint, must bool) {
	n := d.node
	l := &link{a: d, b: t, lastAnswer: [2]time.Duration{-1, -1}}
	if tn := t.node; tn != nil {
		if tn.byID[d.id] != nil && n.byID[t.id] != nil {
			return
		}
		var why refusal
		if l.pb, why = tn.admitInbound(d); l.pb == nil {
			s.res.Refused++
			s.res.RefusedInbound++
			if why == refusedEarly {
				n.failed(t.addr, must)
				return
			}
			_ = n.book.MarkSuccess(t.addr)
			if why == refusedRoom {
				_ = n.book.MarkRefused(t.id)
			}
			return
		}
	}
	p, replaced, err := n.set.Admit(peerset.PeerInfo{ID: t.id, Direction: peerset.Outbound, Remote: netip.AddrPortFrom(t.ip, t.port)}, s.eng.clk.Now())
	if err != nil {
		s.res.Refused++
		s.res.refusals["out "+peerset.ReasonOf(err).String()]++
		if t.node != nil {
			t.node.set.Remove(l.pb)
		}
		return
	}
	if replaced != nil {
		if old := n.byID[t.id]; old != nil {
			s.disconnect(old)
		}
	}
	l.pa = p
	s.attach(l)
	_ = n.book.MarkSuccess(t.addr) // recordContact, outbound
	if tn := t.node; tn != nil && d.listening {
		tn.learnInbound(d)
	}
	// onAdmitted: a node below its outbound target, or a seed, asks a new
	// outbound peer; a seed is always asked.
	isSeed := t.node != nil && t.node.seed
	if isSeed || n.seed || (!must && n.set.Counts().OutboundSlots < s.cfg.MaxOutbound) {
		n.requestPex(l)
	}
}

// connectIn completes a connection an attacker identity a opens to the
// honest node v; it reports whether v admitted it.
func (s *Sim) connectIn(a *endpoint, v *node) bool {
	if v.byID[a.id] != nil {
		return false
	}
	p, _ := v.admitInbound(a)
	if p == nil {
		return false
	}
	l := &link{a: a, b: v.ep, pb: p, lastAnswer: [2]time.Duration{-1, -1}}
	s.attach(l)
	v.learnInbound(a)
	return true
}

// learnInbound is p2p's recordContact for an inbound peer e: its own
// advertised address enters the book unverified, and the dial-back to it
// (p2p/reach.go: at the connection's IP, a handshake closed before
// SETTINGS) verifies it when e listens there. The dial-back is modelled as
// succeeding at once; the real one takes a round trip and a handshake.
func (n *node) learnInbound(e *endpoint) {
	if n.book.Add(e.addr, peerbook.Source{Kind: peerbook.SourceInbound, From: e.id}) != nil {
		return
	}
	if e.listening {
		_ = n.book.MarkVerified(e.addr)
	}
}

// attach registers l at both ends.
func (s *Sim) attach(l *link) {
	l.up = true
	l.since = s.eng.now
	for _, e := range []*endpoint{l.a, l.b} {
		if n := e.node; n != nil {
			if old := n.byID[l.other(e).id]; old != nil && old != l {
				s.disconnect(old)
			}
			n.byID[l.other(e).id] = l
			n.links = append(n.links, l)
		} else {
			e.atk.conns++
		}
	}
}

// disconnect ends l at both ends.
func (s *Sim) disconnect(l *link) {
	if !l.up {
		return
	}
	l.up = false
	for i, e := range []*endpoint{l.a, l.b} {
		n := e.node
		if n == nil {
			e.atk.conns--
			continue
		}
		p := l.pa
		if i == 1 {
			p = l.pb
		}
		if p != nil {
			n.set.Remove(p)
		}
		if n.byID[l.other(e).id] == l {
			delete(n.byID, l.other(e).id)
		}
		for j, x := range n.links {
			if x == l {
				last := len(n.links) - 1
				n.links[j] = n.links[last]
				n.links[last] = nil
				n.links = n.links[:last]
				break
			}
		}
	}
}
