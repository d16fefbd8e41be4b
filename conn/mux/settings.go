package mux

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"golang.org/x/time/rate"
)

// settings is the body of a SETTINGS message: what its sender accepts.
type settings struct {
	maxPacket int    // longest data packet payload accepted
	recvRate  uint32 // inbound bytes/s the sender accepts; 0 = unlimited
	topics    []topicSettings
}

// topicSettings is the SETTINGS entry of one declared topic.
type topicSettings struct {
	id         uint8
	maxMessage int // longest message accepted
	window     int // initial (and maximal) credit granted
}

// appendSettings appends a SETTINGS control packet.
func appendSettings(b []byte, s *settings) []byte {
	b = appendControlHeader(b, ctrlSettings, settingsFixedLen+settingsEntryLen*len(s.topics))
	b = append(b, settingsVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(s.maxPacket))
	b = binary.BigEndian.AppendUint32(b, s.recvRate)
	for _, t := range s.topics {
		b = append(b, t.id)
		b = binary.BigEndian.AppendUint32(b, uint32(t.maxMessage))
		b = binary.BigEndian.AppendUint32(b, uint32(t.window))
	}
	return b
}

// parseSettings decodes and checks a SETTINGS body.
func parseSettings(body []byte) (settings, error) {
	var s settings
	if len(body) < settingsFixedLen || len(body) > maxControlBody || (len(body)-settingsFixedLen)%settingsEntryLen != 0 {
		return s, violation(ViolationMalformedControl, 0, "settings body of %d bytes", len(body))
	}
	if body[0] != settingsVersion {
		return s, violation(ViolationMalformedControl, 0, "settings version %d, want %d", body[0], settingsVersion)
	}
	s.maxPacket = int(binary.BigEndian.Uint16(body[1:3]))
	if s.maxPacket < MinPacketPayload || s.maxPacket > MaxPacketPayloadLimit {
		return s, violation(ViolationMalformedControl, 0, "settings max packet payload %d outside %d-%d", s.maxPacket, MinPacketPayload, MaxPacketPayloadLimit)
	}
	s.recvRate = binary.BigEndian.Uint32(body[3:7])
	n := (len(body) - settingsFixedLen) / settingsEntryLen
	s.topics = make([]topicSettings, n)
	for i := range n {
		e := body[settingsFixedLen+i*settingsEntryLen:]
		t := topicSettings{
			id:         e[0],
			maxMessage: int(binary.BigEndian.Uint32(e[1:5])),
			window:     int(binary.BigEndian.Uint32(e[5:9])),
		}
		switch {
		case t.id == 0 || (i > 0 && s.topics[i-1].id >= t.id):
			return s, violation(ViolationMalformedControl, 0, "settings topics not strictly ascending at %d", t.id)
		case t.maxMessage < 1 || t.maxMessage > MaxMessageSizeLimit:
			return s, violation(ViolationMalformedControl, t.id, "settings max message size %d outside 1-%d", t.maxMessage, MaxMessageSizeLimit)
		case t.window < t.maxMessage+MessageCreditOverhead || t.window > MaxRecvWindow:
			return s, violation(ViolationMalformedControl, t.id, "settings window %d outside %d-%d", t.window, t.maxMessage+MessageCreditOverhead, MaxRecvWindow)
		}
		s.topics[i] = t
	}
	return s, nil
}

// declares reports whether the settings declare exactly the topic list ids.
func (s *settings) declares(ids []byte) bool {
	return slices.EqualFunc(s.topics, ids, func(t topicSettings, id byte) bool { return t.id == id })
}

// exchangeSettings sends our SETTINGS and reads the peer's, which must be
// its first packet and must declare exactly the topics of its PeerMeta.
func (c *MultiConn) exchangeSettings(ctx context.Context) (settings, error) {
	deadline := time.Now().Add(c.p.setupTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.t.SetDeadline(deadline)
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.t.SetDeadline(time.Unix(1, 0))
		close(fired)
	})
	defer func() {
		if !stop() {
			<-fired // ctx ended meanwhile: undo its deadline after it is set
		}
		c.t.SetDeadline(time.Time{})
	}()
	fail := func(err error) (settings, error) {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return settings{}, fmt.Errorf("mux: settings exchange with %s: %w", c.remote.Short(), err)
	}

	ours := settings{maxPacket: c.p.maxPacket, recvRate: uint32(c.p.recvRate)}
	for _, t := range c.topics {
		ours.topics = append(ours.topics, topicSettings{id: t.id, maxMessage: t.cfg.MaxMessageSize, window: t.cfg.RecvWindow})
	}
	if _, err := c.t.Write(appendSettings(nil, &ours)); err != nil {
		return fail(err)
	}
	if err := c.rd.need(packetHeaderLen); err != nil {
		return fail(err)
	}
	h, _ := parsePacketHeader(c.rd.peek(packetHeaderLen))
	if h.topic != 0 || h.kind != ctrlSettings || h.length < settingsFixedLen || h.length > maxControlBody {
		return fail(violation(ViolationMalformedControl, 0, "first packet is not SETTINGS (%v)", h))
	}
	if err := c.rd.need(packetHeaderLen + h.length); err != nil {
		return fail(err)
	}
	c.rd.skip(packetHeaderLen)
	s, err := parseSettings(c.rd.peek(h.length))
	if err != nil {
		return fail(err)
	}
	c.rd.skip(h.length)
	if !s.declares(c.meta.GetTopics()) {
		return fail(violation(ViolationMalformedControl, 0, "SETTINGS topics differ from the PeerMeta topics"))
	}
	return s, nil
}

// applySettings makes the peer's announced limits ours to respect.
func (c *MultiConn) applySettings(s *settings) {
	c.sendMax = min(c.p.maxPacket, s.maxPacket)
	rateLimit := c.p.sendRate
	if s.recvRate > 0 && (rateLimit == 0 || int(s.recvRate) < rateLimit) {
		rateLimit = int(s.recvRate)
	}
	if rateLimit > 0 {
		c.sendLim = rate.NewLimiter(rate.Limit(rateLimit), max(rateLimit/sendRateBurstDiv, frameBudget))
	}
	byPrio := map[uint8][]*topic{}
	for _, ps := range s.topics {
		t := c.topicByID(ps.id)
		if t == nil {
			continue
		}
		t.sendable = true
		t.sendMax = min(t.cfg.MaxMessageSize, ps.maxMessage)
		t.credit = int64(ps.window)
		t.window = int64(ps.window)
		byPrio[t.cfg.Priority] = append(byPrio[t.cfg.Priority], t)
	}
	for prio := 255; prio >= 0; prio-- {
		if ts := byPrio[uint8(prio)]; len(ts) > 0 {
			c.w.classes = append(c.w.classes, prioClass{topics: ts})
		}
	}
	c.w.pingNonce = rand.Uint64()
	c.w.fl.cap = initialInFlight
	c.nextAck = ackEvery
	c.rxEager = reassemblyEagerBudget
}
