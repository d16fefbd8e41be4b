package mux

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/peerwire/peerwire/internal/clock"
)

// Config configures MultiConns. The zero value of every field but
// Topics and OnMessage means its documented default. One Config may be
// shared by many connections; it is validated once, at first use, and must
// be neither modified nor copied after that. The callbacks run on a
// connection's own goroutines and must not block.
type Config struct {
	// Topics are the topics this node serves, in any order, with unique IDs.
	// They must be exactly the topics declared in our PeerMeta.Topics (see
	// TopicIDs). At least one is required.
	Topics []TopicConfig

	// MaxPacketPayload is the longest packet payload in bytes we send and
	// accept: a lower-priority message delays a higher-priority one by at
	// most one packet. Between MinPacketPayload (512) and
	// MaxPacketPayloadLimit (65511); default 16 KiB. We send packets no longer
	// than the smaller of ours and the peer's.
	MaxPacketPayload int

	// PingInterval is how often we ping to measure RTT. Default 10 s.
	PingInterval time.Duration
	// IdleTimeout closes the connection (goaway "timeout") when the peer has
	// sent nothing at all for this long, when no pong has answered our pings
	// for this long (a path dead in one direction), or when one write of
	// ours has made no progress for this long. Any authenticated inbound traffic counts as
	// life, and pongs are never queued behind bulk data, so the default of
	// 60 s keeps a transatlantic validator receiving a 64 MiB block connected.
	// Must be larger than PingInterval. Default 60 s.
	IdleTimeout time.Duration
	// CreditStallTimeout closes the connection (goaway "timeout", cause
	// matching ErrCreditStall) when a topic has had messages queued for
	// sending, and too little credit to send the next one, for this long
	// without the peer returning any credit on it: the peer answers pings
	// but has stopped consuming that topic, and would pin our send queue
	// for ever. A topic with nothing queued is never judged stalled, however
	// long its credit stays used up. The same bound applies to the
	// connection's in-flight credit: data of at least one ACK interval
	// (32 KiB) sent and no ACK for this long closes it too. Must exceed
	// PingInterval (the check runs on the keepalive timer). Default
	// IdleTimeout; negative turns the checks off.
	CreditStallTimeout time.Duration
	// CloseTimeout bounds Close: flushing queued messages, sending the goaway
	// and waiting for the peer to close. Default 5 s.
	CloseTimeout time.Duration
	// SetupTimeout bounds New's SETTINGS exchange. Default 10 s.
	SetupTimeout time.Duration

	// SendRate limits our outbound data in bytes per second, headers
	// included; 0 means unlimited. Control messages are never delayed.
	SendRate int
	// RecvRate is the inbound data rate in bytes per second we accept; 0
	// means unlimited. It is announced to the peer, which sends no faster;
	// a peer that exceeds it anyway is reported (OnRateExcess) and, if it
	// persists, disconnected. Reading is never slowed down, so control
	// messages are never delayed.
	RecvRate int
	// PingRate and PingBurst limit inbound pings and unsolicited pongs (per second, at
	// once); more is a ping flood, a protocol violation. Defaults 1/s and 10.
	PingRate  float64
	PingBurst int
	// ExcessTolerance is how many inbound rate excesses (messages over a
	// topic's InboundRate, packets over RecvRate) are tolerated per
	// ExcessPeriod; beyond that the connection is closed with goaway
	// "rate limit". Defaults 100 per 10 s.
	ExcessTolerance int
	ExcessPeriod    time.Duration

	// NotSentLowat is the TCP_NOTSENT_LOWAT in bytes set on the underlying
	// TCP socket (Linux only): the kernel then keeps at most this much unsent
	// data in front of an urgent message. 0 means the default, 128 KiB; a
	// negative value leaves the socket alone.
	NotSentLowat int

	// Features are the application's features (IDs FirstAppFeature-0xffff,
	// at most 32, values at most MaxFeatureValue bytes) advertised in our
	// SETTINGS (docs/PROTOCOL.md §8.7). A feature the peer advertises too
	// is in use (MultiConn.PeerFeature); one marked Required refuses a peer
	// that does not advertise it, with an IncompatibleError on both sides.
	Features []Feature
	// ProtocolFeatures are protocol features (IDs 0x0001 to
	// FirstAppFeature-1, defined in docs/PROTOCOL.md) that the layer above
	// the multiplexer implements, advertised beside Features; the node
	// marks a transient connection with one (§8.7).
	ProtocolFeatures []Feature

	// OnMessage receives every complete message, in order per topic, on the
	// connection's reader goroutine. It must not block: it should hand the
	// message to a queue. Each message's bytes stay charged to the sender's
	// credit until m.Done is called, so the queue is bounded by the topics'
	// RecvWindows and nothing ever needs to be dropped. Required.
	OnMessage func(m *Message)
	// NewMessage, if set, allocates the Message the reader fills for each
	// message received; it must return a new, zero Message each call. A
	// layer above uses it to make the Message part of a value of its own,
	// named by Message.Outer, and so to spare an allocation per message
	// (p2p does: its inbox Message and this one are one allocation).
	NewMessage func() *Message
	// LendMessages makes the Message OnMessage receives the reader's own,
	// reused for the next message: it is OnMessage's only until it
	// returns. To hold it longer OnMessage calls m.Keep, which returns the
	// same message in one that stays (from NewMessage when set). A lent
	// message OnMessage did not keep is Done when it returns, and its
	// Data (never reused, unless m.Pooled: Message.Release) stays the
	// application's. It spares the allocation of a Message for those the
	// layer above consumes within OnMessage: p2p, delivering a direct
	// message into its inbox from the reader, makes its own Message of it
	// there (issue 13).
	LendMessages bool
	// OnViolation, if set, is called once when the peer breaks the protocol,
	// just before the connection closes with a goaway.
	OnViolation func(c *MultiConn, v *ViolationError)
	// OnRateExcess, if set, is called for each inbound rate excess: a message
	// over topic's InboundRate, or (topic 0) data over RecvRate. It is a
	// reputation event; the message is still delivered.
	OnRateExcess func(c *MultiConn, topic uint8)
	// OnClose, if set, is called once when the connection has ended and both
	// of its goroutines have exited, with the same error as Err.
	OnClose func(c *MultiConn, err error)

	// Logger receives connection-level events (never one per packet); nil
	// means silent.
	Logger *slog.Logger
	// Clock supplies time for keepalive, rate limits and RTT; nil means the
	// real clock. Socket deadlines and the close linger use real time.
	Clock clock.Clock

	// protocolFeatures are protocol features (IDs below FirstAppFeature)
	// advertised beside Features: this package's tests play peers of later
	// versions with them. This version implements none.
	protocolFeatures []featureEntry

	// cache holds the config resolved at first use.
	cache atomic.Pointer[resolved]
}

// resolved is a validated Config with defaults applied. It is
// immutable and shared by every connection made with the config.
type resolved struct {
	topics       []TopicConfig // with defaults, ascending by ID
	maxPacket    int
	pingInterval time.Duration
	idleTimeout  time.Duration
	stallTimeout time.Duration // 0: off
	closeTimeout time.Duration
	setupTimeout time.Duration
	sendRate     int
	recvRate     int
	pingRate     float64
	pingBurst    int
	excessTol    int
	excessPeriod time.Duration
	notSentLowat int
	onMessage    func(*Message)
	newMessage   func() *Message
	lend         bool
	onViolation  func(*MultiConn, *ViolationError)
	onRateExcess func(*MultiConn, uint8)
	onClose      func(*MultiConn, error)
	log          *slog.Logger
	clock        clock.Clock
	features     []featureEntry // advertised in SETTINGS, ascending by ID
}

// Validate reports the first invalid field of c, by name.
func (c *Config) Validate() error {
	_, err := c.params()
	return err
}

func (c *Config) params() (*resolved, error) {
	if p := c.cache.Load(); p != nil {
		return p, nil
	}
	p, err := c.resolve()
	if err != nil {
		return nil, err
	}
	c.cache.CompareAndSwap(nil, p)
	return c.cache.Load(), nil
}

func (c *Config) resolve() (*resolved, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("mux: Config."+format, args...)
	}
	if len(c.Topics) == 0 {
		return nil, bad("Topics: no topic declared")
	}
	p := &resolved{
		maxPacket: c.MaxPacketPayload, pingInterval: c.PingInterval, idleTimeout: c.IdleTimeout, stallTimeout: c.CreditStallTimeout,
		closeTimeout: c.CloseTimeout, setupTimeout: c.SetupTimeout, sendRate: c.SendRate,
		recvRate: c.RecvRate, pingRate: c.PingRate, pingBurst: c.PingBurst,
		excessTol: c.ExcessTolerance, excessPeriod: c.ExcessPeriod, notSentLowat: c.NotSentLowat,
		onMessage: c.OnMessage, newMessage: c.NewMessage, lend: c.LendMessages, onViolation: c.OnViolation, onRateExcess: c.OnRateExcess,
		onClose: c.OnClose, log: c.Logger, clock: c.Clock,
	}
	var seen topicSet
	p.topics = make([]TopicConfig, 0, len(c.Topics))
	for _, tc := range c.Topics {
		if tc.ID != 0 && seen.has(tc.ID) {
			return nil, fmt.Errorf("mux: topic %d (%q): ID declared twice", tc.ID, tc.Name)
		}
		tc, err := tc.withDefaults()
		if err != nil {
			return nil, err
		}
		seen.add(tc.ID)
		p.topics = append(p.topics, tc)
	}
	slices.SortFunc(p.topics, func(a, b TopicConfig) int { return int(a.ID) - int(b.ID) })
	fs, err := checkFeatures(c.Features)
	if err != nil {
		return nil, err
	}
	pfs, err := checkProtocolFeatures(c.ProtocolFeatures)
	if err != nil {
		return nil, err
	}
	pfs = append(pfs, c.protocolFeatures...)
	slices.SortFunc(pfs, func(a, b featureEntry) int { return int(a.id) - int(b.id) })
	p.features = append(pfs, fs...) // protocol IDs sort first
	if len(p.features) > maxFeatures {
		return nil, fmt.Errorf("conn: Config.Features and ProtocolFeatures: %d features, at most %d", len(p.features), maxFeatures)
	}
	if p.onMessage == nil {
		return nil, bad("OnMessage: required")
	}
	p.maxPacket = cmp.Or(p.maxPacket, DefaultMaxPacketPayload)
	if p.maxPacket < MinPacketPayload || p.maxPacket > MaxPacketPayloadLimit {
		return nil, bad("MaxPacketPayload %d outside %d-%d", p.maxPacket, MinPacketPayload, MaxPacketPayloadLimit)
	}
	p.pingInterval = cmp.Or(p.pingInterval, DefaultPingInterval)
	p.idleTimeout = cmp.Or(p.idleTimeout, DefaultIdleTimeout)
	p.closeTimeout = cmp.Or(p.closeTimeout, DefaultCloseTimeout)
	p.setupTimeout = cmp.Or(p.setupTimeout, DefaultSetupTimeout)
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"PingInterval", p.pingInterval}, {"IdleTimeout", p.idleTimeout}, {"CloseTimeout", p.closeTimeout}, {"SetupTimeout", p.setupTimeout}} {
		if d.v < 0 {
			return nil, bad("%s %v is negative", d.name, d.v)
		}
	}
	if p.idleTimeout <= p.pingInterval {
		return nil, bad("IdleTimeout %v must exceed PingInterval %v", p.idleTimeout, p.pingInterval)
	}
	switch {
	case p.stallTimeout == 0:
		p.stallTimeout = p.idleTimeout
	case p.stallTimeout < 0:
		p.stallTimeout = 0
	case p.stallTimeout <= p.pingInterval:
		return nil, bad("CreditStallTimeout %v must exceed PingInterval %v", p.stallTimeout, p.pingInterval)
	}
	if p.sendRate < 0 {
		return nil, bad("SendRate %d is negative", p.sendRate)
	}
	if p.recvRate < 0 || p.recvRate > 1<<32-1 {
		return nil, bad("RecvRate %d outside 0-%d", p.recvRate, uint32(1<<32-1))
	}
	p.pingRate = cmp.Or(p.pingRate, DefaultPingRate)
	p.pingBurst = cmp.Or(p.pingBurst, DefaultPingBurst)
	if p.pingRate < 0 || p.pingBurst < 1 {
		return nil, bad("PingRate %v / PingBurst %d: must be positive", p.pingRate, p.pingBurst)
	}
	p.excessTol = cmp.Or(p.excessTol, DefaultExcessTolerance)
	p.excessPeriod = cmp.Or(p.excessPeriod, DefaultExcessPeriod)
	if p.excessTol < 1 || p.excessPeriod <= 0 {
		return nil, bad("ExcessTolerance %d / ExcessPeriod %v: must be positive", p.excessTol, p.excessPeriod)
	}
	p.notSentLowat = cmp.Or(p.notSentLowat, DefaultNotSentLowat)
	p.clock = clock.Or(p.clock)
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	return p, nil
}
