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

// settings is the body of a SETTINGS message: what its sender accepts and
// the features it speaks.
type settings struct {
	maxPacket int    // longest data packet payload accepted
	recvRate  uint32 // inbound bytes/s the sender accepts; 0 = unlimited
	topics    []topicSettings
	features  []featureEntry // ascending by ID; none: sent in format 1
}

// topicSettings is the SETTINGS entry of one declared topic.
type topicSettings struct {
	id         uint8
	maxMessage int // longest message accepted
	window     int // initial (and maximal) credit granted
}

// SETTINGS formats (docs/PROTOCOL.md §8.3): the first body byte.
const (
	// settingsPlain is the format without features, the only one
	// implementations older than feature negotiation read: a sender that
	// advertises no feature uses it, so they still understand it.
	settingsPlain uint8 = 1
	// settingsFeatures counts the topic entries and appends the features.
	settingsFeatures uint8 = 2
)

// appendSettings appends a SETTINGS control packet: format 1 when s
// advertises no feature, else format 2.
func appendSettings(b []byte, s *settings) []byte {
	n := settingsFixedLen + settingsEntryLen*len(s.topics)
	format := settingsPlain
	if len(s.features) > 0 {
		format = settingsFeatures
		n += 2
		for _, f := range s.features {
			n += featureEntryLen + len(f.value)
		}
	}
	b = appendControlHeader(b, ctrlSettings, n)
	b = append(b, format)
	b = binary.BigEndian.AppendUint16(b, uint16(s.maxPacket))
	b = binary.BigEndian.AppendUint32(b, s.recvRate)
	if format == settingsFeatures {
		b = append(b, uint8(len(s.topics)))
	}
	for _, t := range s.topics {
		b = append(b, t.id)
		b = binary.BigEndian.AppendUint32(b, uint32(t.maxMessage))
		b = binary.BigEndian.AppendUint32(b, uint32(t.window))
	}
	if format == settingsFeatures {
		b = append(b, uint8(len(s.features)))
		for _, f := range s.features {
			b = binary.BigEndian.AppendUint16(b, f.id)
			b = append(b, f.flags, uint8(len(f.value)))
			b = append(b, f.value...)
		}
	}
	return b
}

// parseSettings decodes and checks a SETTINGS body of either format. The
// result does not alias body.
func parseSettings(body []byte) (settings, error) {
	var s settings
	if len(body) < settingsFixedLen || len(body) > maxControlBody {
		return s, violation(ViolationMalformedControl, 0, "settings body of %d bytes", len(body))
	}
	s.maxPacket = int(binary.BigEndian.Uint16(body[1:3]))
	if s.maxPacket < MinPacketPayload || s.maxPacket > MaxPacketPayloadLimit {
		return s, violation(ViolationMalformedControl, 0, "settings max packet payload %d outside %d-%d", s.maxPacket, MinPacketPayload, MaxPacketPayloadLimit)
	}
	s.recvRate = binary.BigEndian.Uint32(body[3:7])
	rest := body[settingsFixedLen:]
	var entries []byte
	switch body[0] {
	case settingsPlain:
		if len(rest)%settingsEntryLen != 0 {
			return s, violation(ViolationMalformedControl, 0, "settings body of %d bytes", len(body))
		}
		entries, rest = rest, nil
	case settingsFeatures:
		if len(rest) < 1 || len(rest) < 2+int(rest[0])*settingsEntryLen {
			return s, violation(ViolationMalformedControl, 0, "settings body of %d bytes too short for its topics", len(body))
		}
		entries, rest = rest[1:1+int(rest[0])*settingsEntryLen], rest[1+int(rest[0])*settingsEntryLen:]
	default:
		return s, violation(ViolationMalformedControl, 0, "settings format %d, want %d or %d", body[0], settingsPlain, settingsFeatures)
	}
	n := len(entries) / settingsEntryLen
	s.topics = make([]topicSettings, n)
	for i := range n {
		e := entries[i*settingsEntryLen:]
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
	if rest == nil {
		return s, nil
	}
	var err error
	s.features, err = parseFeatures(rest)
	return s, err
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

	ours := settings{maxPacket: c.p.maxPacket, recvRate: uint32(c.p.recvRate), features: c.p.features}
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
	c.rxBudget = newRxBudget()
}
