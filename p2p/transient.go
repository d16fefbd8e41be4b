package p2p

// Transient connections: a connection made only for DHT queries, to a
// node we are not connected to. The dialer marks it in its SETTINGS with
// the protocol feature featureTransient (docs/PROTOCOL.md §8.7), so both
// sides know. Both admit it with peerset.Set.AdmitTransient — bans and
// per-IP caps apply, and at most peerset.MaxTransient per direction — but
// outside the peer set: it takes no inbound or outbound slot, is never
// in Peers, never current (no gossip, PEX, application messages, no
// duplicate rule), and carries only DHT requests and answers; anything
// else on it is a protocol violation. The dial goes through the node's
// filters, bans and dial rate like any (dialConn). It closes after
// TransientIdleTimeout without DHT traffic, on the node's clock.

import (
	"strconv"
	"sync"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/peerset"
)

// transientMark is featureTransient's value on a connection its dialer
// made transient; an empty value only says the sender knows the mark.
const transientMark = 0x01

// transientState is what a transient connection keeps beside its peerConn.
type transientState struct {
	release func() // frees its AdmitTransient count

	mu     sync.Mutex
	last   time.Time   // last DHT request or answer
	timer  clock.Timer // the idle check
	closed bool
}

// transientFeatures returns the protocol features of a connection:
// featureTransient, with the mark when transient, if the DHT is on. A node
// without the DHT advertises nothing, so its SETTINGS stay format 1 for
// implementations older than feature negotiation.
func (n *Node) transientFeatures(transient bool) []mux.Feature {
	if n.s.DHT.Mode == DHTOff {
		return nil
	}
	f := mux.Feature{ID: featureTransient}
	if transient {
		f.Value = []byte{transientMark}
	}
	return []mux.Feature{f}
}

// markedTransient reports whether the dialer of mc marked it transient.
func markedTransient(mc *mux.MultiConn) bool {
	v, ok := mc.PeerFeature(featureTransient)
	return ok && len(v) == 1 && v[0] == transientMark
}

// admitTransient admits pc, whose MultiConn is built and not started, as a
// transient connection, or refuses it with a goaway saying why.
func (n *Node) admitTransient(pc *peerConn, now time.Time) error {
	release, err := n.set.AdmitTransient(peerset.PeerInfo{ID: pc.id, Direction: pc.dir, Remote: pc.remote, Meta: pc.meta}, now)
	if err != nil {
		pc.refused.Store(true)
		reason := peerset.ReasonOf(err)
		n.st.refused("transient-" + reason.String())
		n.refuse(pc, goAwayCode(reason), reason.String())
		return err
	}
	n.conns.Lock() // transientConns reads tr under it
	pc.tr = &transientState{release: release, last: now}
	n.conns.Unlock()
	n.armTransient(pc, TransientIdleTimeout)
	if pc.dir == peerset.Outbound {
		n.transientOut.Store(pc.id, pc)
	}
	pc.mc.Start()
	return nil
}

// transientFor returns our open transient connection to id, if any.
func (n *Node) transientFor(id crypto.ID) *peerConn {
	v, ok := n.transientOut.Load(id)
	if !ok {
		return nil
	}
	pc := v.(*peerConn)
	select {
	case <-pc.mc.Done():
		return nil
	default:
		return pc
	}
}

// transientConns returns the transient connections started and not yet
// closed, both directions, for Stop to close.
func (n *Node) transientConns() []*peerConn {
	n.conns.Lock()
	defer n.conns.Unlock()
	var out []*peerConn
	for pc := range n.conns.live {
		if pc.transient && pc.tr != nil && !pc.refused.Load() {
			out = append(out, pc)
		}
	}
	return out
}

// armTransient schedules pc's idle check in d.
func (n *Node) armTransient(pc *peerConn, d time.Duration) {
	tr := pc.tr
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.closed {
		return
	}
	tr.timer = n.afterFunc(d, func() { n.transientIdle(pc) })
}

// transientIdle closes pc when it has carried no DHT traffic for
// TransientIdleTimeout, else checks again when that would be.
func (n *Node) transientIdle(pc *peerConn) {
	tr := pc.tr
	tr.mu.Lock()
	left := TransientIdleTimeout - n.s.Now().Sub(tr.last)
	tr.mu.Unlock()
	if left > 0 {
		n.armTransient(pc, left)
		return
	}
	n.goAway(pc.mc, mux.GoAwayTrimmed, "transient connection idle")
}

// transientMessage lets through the DHT requests and answers of a
// transient connection, noting the activity, and treats anything else as a
// protocol violation. It reports whether m goes on to be handled.
func (n *Node) transientMessage(pc *peerConn, m *mux.Message) bool {
	if m.Topic == DHTTopic && len(m.Data) > 0 && isRRKind(m.Data[0]) {
		pc.tr.mu.Lock()
		pc.tr.last = n.s.Now()
		pc.tr.mu.Unlock()
		return true
	}
	topic := m.Topic
	m.Done()
	if pc.refused.Swap(true) {
		return false
	}
	n.st.violations.Add(1)
	n.log.Info("protocol violation", "peer", pc.id.String(), "remote", pc.remote.String(), "violation", "non-DHT message on a transient connection")
	n.applyBan(n.set.Record(pc.id, peerset.EventProtocolViolation))
	n.goAway(pc.mc, mux.GoAwayProtocolViolation, "topic "+strconv.Itoa(int(topic))+" on a transient connection")
	return false
}

// closeTransient is OnClose for a transient connection: the idle check
// stops, its AdmitTransient count is freed, its counters join the totals.
func (n *Node) closeTransient(pc *peerConn) {
	if tr := pc.tr; tr != nil {
		tr.mu.Lock()
		tr.closed = true
		if tr.timer != nil {
			tr.timer.Stop()
		}
		tr.mu.Unlock()
		tr.release()
		n.transientOut.CompareAndDelete(pc.id, pc)
	}
	n.st.closed.Lock()
	n.st.foldLocked(pc.mc.Stats())
	n.st.closed.Unlock()
}
