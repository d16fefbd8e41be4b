package mux

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of one connection's counters.
type Stats struct {
	Topics []TopicStats // ours, ascending by ID

	Version  uint16   // protocol version negotiated with the peer
	Features []uint16 // features in use (both sides advertised them), ascending

	ControlIgnored uint64 // control messages of unknown ignorable types skipped

	BytesSent uint64 // bytes handed to the transport (packets with headers)
	BytesRecv uint64 // bytes read from the transport
	PingsSent uint64
	PingsRecv uint64
	RTT       RTTStats

	RateLimitWaits  uint64        // times outbound data waited for the SendRate limiter
	RateLimitWaited time.Duration // total time those waits were scheduled for
	RateExcess      uint64        // inbound excesses over RecvRate or a topic's InboundRate
	Violations      uint64        // protocol violations by the peer (at most 1)
	Unsent          uint64        // accepted messages dropped because the connection ended
	Cancelled       uint64        // queued messages withdrawn by Cancel before their first byte was sent

	InFlight      int64         // data bytes sent and not yet acknowledged by the peer's reader
	InFlightCap   int64         // current cap on InFlight for the lowest priority
	InFlightWaits uint64        // times data waited for the in-flight cap
	AckRTT        time.Duration // latest round trip measured by ACKs (includes queueing)
	MinAckRTT     time.Duration // lowest recent ACK round trip
	DeliveryRate  float64       // highest recent delivery rate, bytes per second
}

// TopicStats are one topic's counters on one connection.
type TopicStats struct {
	ID   uint8
	Name string

	MsgsSent, BytesSent uint64 // messages fully handed to the transport, and their bytes
	MsgsRecv, BytesRecv uint64 // messages received whole, and their bytes

	SendQueue      int           // messages waiting to be sent, including the one in progress
	SendQueueBytes int           // their bytes
	CreditStalled  time.Duration // how long the next message has waited for credit with none returned; 0: not waiting
	SendCredit     int64         // bytes of credit the peer has granted us and we have not used
	CreditStalls   uint64        // times the next message had to wait for credit
	RecvHeld       int64         // delivered messages not yet Done
	RateExcess     uint64        // messages over InboundRate
	Sendable       bool          // the peer declared the topic
}

type connCounters struct {
	bytesSent, bytesRecv     atomic.Uint64
	pingsSent, pingsRecv     atomic.Uint64
	rateWaits, rateWaitNanos atomic.Uint64
	rateExcess, violations   atomic.Uint64
	unsent                   atomic.Uint64
	cancelled                atomic.Uint64
	inFlightWaits            atomic.Uint64
	controlIgnored           atomic.Uint64
}

type topicCounters struct {
	msgsSent, bytesSent atomic.Uint64
	msgsRecv, bytesRecv atomic.Uint64
	creditStalls        atomic.Uint64
	rateExcess          atomic.Uint64
}

// Stats returns a snapshot of the connection's counters. It is safe for
// concurrent use and cheap enough to call once a second per connection.
func (c *MultiConn) Stats() Stats {
	s := Stats{
		Topics:          make([]TopicStats, len(c.topics)),
		BytesSent:       c.st.bytesSent.Load(),
		BytesRecv:       c.st.bytesRecv.Load(),
		PingsSent:       c.st.pingsSent.Load(),
		PingsRecv:       c.st.pingsRecv.Load(),
		RTT:             c.RTT(),
		RateLimitWaits:  c.st.rateWaits.Load(),
		RateLimitWaited: time.Duration(c.st.rateWaitNanos.Load()),
		RateExcess:      c.st.rateExcess.Load(),
		Violations:      c.st.violations.Load(),
		Unsent:          c.st.unsent.Load(),
		Cancelled:       c.st.cancelled.Load(),
		Version:         c.version,
		Features:        c.Features(),
		ControlIgnored:  c.st.controlIgnored.Load(),
	}
	now := time.Duration(c.offset(c.clock.Now()))
	c.w.Lock()
	s.InFlight, s.InFlightCap, s.InFlightWaits = c.w.fl.used(), c.w.fl.capAt(now), c.st.inFlightWaits.Load()
	s.AckRTT, s.MinAckRTT, s.DeliveryRate = c.w.fl.lastAckRTT, c.w.fl.minRTT, c.w.fl.maxRate
	for i, t := range c.topics {
		s.Topics[i] = TopicStats{
			ID: t.id, Name: t.cfg.Name,
			SendQueue: t.q.n, SendQueueBytes: t.qBytes, SendCredit: t.credit, Sendable: t.sendable,
		}
		if t.stalled && t.waitsForCredit() {
			s.Topics[i].CreditStalled = now - t.stallAt
		}
	}
	c.w.Unlock()
	for i, t := range c.topics {
		ts := &s.Topics[i]
		ts.MsgsSent, ts.BytesSent = t.st.msgsSent.Load(), t.st.bytesSent.Load()
		ts.MsgsRecv, ts.BytesRecv = t.st.msgsRecv.Load(), t.st.bytesRecv.Load()
		ts.CreditStalls = t.st.creditStalls.Load()
		ts.RecvHeld = t.held.Load()
		ts.RateExcess = t.st.rateExcess.Load()
	}
	return s
}
