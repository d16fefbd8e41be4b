package mux

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/proto/pb"
)

// Transport is what a MultiConn runs over: an authenticated, reliable,
// ordered byte stream that knows its peer. *conn.EncryptedConn implements
// it. Its method set is net.Conn's plus RemoteID and RemoteMeta; what a
// MultiConn relies on is written down per method below. The MultiConn owns
// its Transport from New on: nothing else may read or write it.
//
// Optional methods: if the transport also has LocalMeta() *pb.PeerMeta
// (our side's declaration, checked against Config.Topics), NetConn()
// net.Conn (the socket, for TCP_NOTSENT_LOWAT), CloseWrite() error (an
// orderly end of our direction, e.g. close-notify, after a goaway) or
// Version() uint16 (the protocol version negotiated with the peer; without
// it, version 1), the MultiConn uses them. A *conn.EncryptedConn itself
// (not a type embedding one) is handed each batch to seal in place in the
// writer's buffer with WriteFrame instead of Write.
type Transport interface {
	// Read reads authenticated bytes of the peer's stream into p. It is
	// called from one goroutine at a time (New, then the reader). It
	// returns io.EOF only after the peer ended its direction cleanly; any
	// other end, including a truncated stream, is an error. An error that
	// matches conn.ErrProtocol means the peer broke the layer beneath,
	// which has then closed itself (a ViolationMalformedFrame). After
	// Close, or once the read deadline passes, Read returns an error at
	// once, including a Read already blocked.
	Read(p []byte) (n int, err error)
	// Write writes all of p or returns an error; a Write of at most
	// conn.MaxFramePayload bytes should cost one frame and one syscall. It
	// is called from one goroutine at a time (New, the writer, or the
	// goaway of a MultiConn that never started). After Close, or once the
	// write deadline passes, Write returns an error at once, including a
	// Write already blocked.
	Write(p []byte) (n int, err error)
	// Close closes the stream in both directions and unblocks Read and
	// Write. It may be called from any goroutine, at any time, more than
	// once; calls after the first do nothing and may return an error,
	// which the MultiConn ignores.
	Close() error
	// LocalAddr and RemoteAddr return the stream's addresses; they are
	// only reported, and must keep working after Close.
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
	// SetDeadline, SetReadDeadline and SetWriteDeadline behave as
	// net.Conn's: a deadline in the past fails blocked and future calls at
	// once; the zero time clears it. They may be called from any goroutine
	// at any time, including during a blocked Read or Write and after
	// Close (where they may return an error, which is ignored).
	SetDeadline(t time.Time) error
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	// RemoteID returns the peer's authenticated identity. It never changes
	// and must keep working after Close.
	RemoteID() crypto.ID
	// RemoteMeta returns what the peer declared in the handshake; its
	// Topics are the topics the peer serves. It never changes and must
	// keep working after Close; the MultiConn does not modify it.
	RemoteMeta() *pb.PeerMeta
}

// MultiConn carries many prioritised topics of messages over one Transport
// (docs/PROTOCOL.md §8). Messages are split into packets that
// interleave across topics; one writer goroutine sends control messages
// first, then topics by strict priority, round-robin within a priority;
// per-topic credit keeps a slow consumer of one topic from stalling the
// others; keepalive pings measure RTT and detect dead peers; a goaway tells
// the peer why the connection ends.
//
// New builds a MultiConn and Start runs it: two goroutines, a reader and a
// writer, and the keepalive timer. All its methods are safe for concurrent
// use, before and after Start.
type MultiConn struct {
	t      Transport
	p      *resolved
	clock  clock.Clock
	remote crypto.ID
	meta   *pb.PeerMeta
	base   time.Time // clock reading at creation; atomics hold offsets from it

	topics []*topic   // ours, ascending by ID
	index  [256]uint8 // topic ID → 1 + position in topics; 0: not ours
	peer   topicSet   // topics the peer declared

	sendLim *rate.Limiter // outbound data bytes; nil: unlimited
	recvLim *rate.Limiter // inbound data bytes; nil: unlimited
	pingLim *rate.Limiter // inbound pings and pongs
	strikes *rate.Limiter // inbound excesses; made at the first one (reader only)
	sendMax int           // longest packet payload we send

	wake       chan struct{} // wakes the idle writer; capacity 1
	closing    chan struct{} // closed when sends are no longer accepted
	readerDone chan struct{} // closed when the reader goroutine has ended
	done       chan struct{} // closed when the connection has ended
	exits      atomic.Int32  // goroutines that have ended

	w struct {
		sync.Mutex // guards the fields below and every topic's send side
		classes    []prioClass
		idle       bool // the writer waits for wake
		started    bool // Start was called
		state      connState
		pingDue    bool
		pingNonce  uint64
		pongDue    bool
		pongNonce  uint64
		windowDue  bool
		goaway     *GoAwayError // to send
		goawaySent bool
		linger     time.Duration // after the goaway, how long to wait for the peer to close
		rateUntil  time.Time     // no data before this (outbound rate limit)
		rateTimer  clock.Timer
		ackDue     bool
		fl         inflight
		// ackWaitAt is the offset since which at least ackEvery data bytes
		// have been unacknowledged with no ACK progress: a peer that reads
		// but withholds ACKs would otherwise hold the in-flight cap shut,
		// and our queues, for ever.
		ackWaitAt time.Duration
	}

	end struct {
		sync.Mutex   // guards the fields below
		cause        error
		remoteGoAway *GoAwayError
	}

	ka struct {
		sync.Mutex    // guards the fields below
		timer         clock.Timer
		stopped       bool
		nextPing      time.Duration // offset of the next ping
		outstanding   uint64        // nonce of the latest ping awaiting its pong
		outstandingAt time.Time     // when it was sent
		waiting       bool          // a ping awaits its pong
		firstNonce    uint64        // nonce of the oldest unanswered ping
		unanswered    time.Duration // offset at which it was sent
		rtt           RTTStats
	}

	rxData   atomic.Uint64 // data-packet bytes read (acknowledged in ACKs)
	nextAck  uint64        // rxData at which the next ACK is due; reader only
	rxBudget rxBudget      // what partial messages may take ahead of arrival; reader only

	lastRecv   atomic.Int64 // offset (ns) of the last inbound bytes
	writeStart atomic.Int64 // offset (ns) + 1 of the Write in progress; 0: none

	version   uint16         // protocol version negotiated by the transport
	ignoreLim *rate.Limiter  // inbound ignored control messages; made at the first (reader only)
	features  []featureEntry // the peer's entries of the features in use, ascending

	rd   packetReader // reader goroutine only
	lent Message      // the message OnMessage borrows, with Config.LendMessages; reader only
	st   connCounters
}

type connState uint8

const (
	stateOpen    connState = iota
	stateClosing           // graceful close: flushing, no new sends
	stateFinal             // the writer sends the goaway, if any, and ends
)

// topic is the runtime state of one of our topics on one connection.
type topic struct {
	id  uint8
	cfg *TopicConfig

	// Send side, guarded by MultiConn.w.
	sendable bool // the peer declared it too
	sendMax  int  // longest message we may send: ours and the peer's limit
	q        msgQueue
	qBytes   int   // bytes of the messages in q
	started  bool  // the head message's first packet is sent
	off      int   // bytes of the head message sent
	credit   int64 // bytes the peer still accepts
	window   int64 // the peer's window: credit never exceeds it
	stalled  bool  // waiting for credit
	// stallAt is the offset (MultiConn.offset) at which the topic began
	// waiting for credit, or at which the peer last returned credit while it
	// waited: the credit-stall timeout counts from it.
	stallAt time.Duration
	space   chan struct{}

	// Receive side, reader goroutine only.
	rx    reassembly // the message being received
	inMsg bool
	lim   *rate.Limiter

	// Receive credit, shared by the reader, the writer and Message.Done.
	avail     atomic.Int64 // credit the peer still has, as we granted it
	pending   atomic.Int64 // consumed, not yet granted back
	threshold int64        // grant back once pending reaches this
	held      atomic.Int64 // messages delivered, not yet Done

	st topicCounters
}

// New builds a MultiConn over t, which it owns from now on: t is closed
// when the MultiConn ends or if New fails. Our topics (cfg) must match what
// t's LocalMeta declared, if t has LocalMeta; the peer's come from
// t.RemoteMeta(). New sets TCP_NOTSENT_LOWAT on the socket and exchanges
// SETTINGS with the peer on the calling goroutine, which takes half a round
// trip, bounded by ctx and cfg.SetupTimeout. If the peer's SETTINGS breaks
// the protocol, New sends a goaway naming the violation before it closes t,
// and its error wraps the *ViolationError. If one side requires a feature
// the other does not advertise (docs/PROTOCOL.md §8.7), New sends a goaway
// "incompatible" naming it, and its error wraps a *conn.IncompatibleError
// naming it too.
//
// New starts no goroutine and runs no callback: nothing is read from the
// peer after its SETTINGS until Start. The owner then either admits the
// connection and calls Start, or refuses it with GoAway, Abort or Close,
// which work on a MultiConn that never starts.
func New(ctx context.Context, t Transport, cfg *Config) (*MultiConn, error) {
	c, err := newMux(ctx, t, cfg)
	if err != nil {
		var v *ViolationError
		var ie *conn.IncompatibleError
		switch {
		case errors.As(err, &v):
			sendGoAwayAndLinger(t, GoAwayProtocolViolation, v.text(), time.Now().Add(abortLinger))
		case errors.As(err, &ie):
			sendGoAwayAndLinger(t, GoAwayIncompatible, incompatibleText(ie), time.Now().Add(abortLinger))
		}
		t.Close()
		return nil, err
	}
	return c, nil
}

// Start starts the connection's reader, writer and keepalive; from now on
// the callbacks run and messages are delivered. Only the first call has an
// effect. Every started MultiConn calls OnClose exactly once, when it has
// ended; if it was closed before Start, Start only arranges that call,
// which then comes once the close has completed.
func (c *MultiConn) Start() {
	c.w.Lock()
	if c.w.started {
		c.w.Unlock()
		return
	}
	c.w.started = true
	open := c.w.state == stateOpen
	c.w.Unlock()
	if !open {
		go func() {
			<-c.done
			c.closed()
		}()
		return
	}
	go c.readLoop()
	go c.writeLoop()
	c.startKeepalive()
}

func newMux(ctx context.Context, t Transport, cfg *Config) (*MultiConn, error) {
	p, err := cfg.params()
	if err != nil {
		return nil, err
	}
	ours := TopicIDs(p.topics)
	if lm, ok := t.(interface{ LocalMeta() *pb.PeerMeta }); ok && lm.LocalMeta() != nil {
		if declared := lm.LocalMeta().GetTopics(); !bytes.Equal(declared, ours) {
			return nil, fmt.Errorf("mux: Config.Topics %v differ from the topics %v declared in our PeerMeta", ours, declared)
		}
	}
	meta := t.RemoteMeta()
	if err := checkTopicList(meta.GetTopics()); err != nil {
		return nil, fmt.Errorf("mux: peer %s: %w", t.RemoteID().Short(), err)
	}
	c := &MultiConn{
		t:          t,
		p:          p,
		clock:      p.clock,
		remote:     t.RemoteID(),
		meta:       meta,
		topics:     make([]*topic, len(p.topics)),
		peer:       topicSetOf(meta.GetTopics()),
		wake:       make(chan struct{}, 1),
		closing:    make(chan struct{}),
		readerDone: make(chan struct{}),
		done:       make(chan struct{}),
	}
	c.version = conn.MinProtocolVersion // a transport that does not negotiate speaks the first
	if tv, ok := t.(interface{ Version() uint16 }); ok {
		c.version = tv.Version()
	}
	if c.version < conn.MinProtocolVersion || c.version > conn.ProtocolVersion {
		return nil, fmt.Errorf("mux: the transport negotiated protocol version %d, the multiplexer speaks %d-%d", c.version, conn.MinProtocolVersion, conn.ProtocolVersion)
	}
	c.base = c.clock.Now()
	c.rd.init(c)
	for i := range p.topics {
		tc := &p.topics[i]
		tp := &topic{id: tc.ID, cfg: tc, lim: tc.inboundLimiter()}
		tp.avail.Store(int64(tc.RecvWindow))
		tp.threshold = min(int64(tc.RecvWindow)/4, maxWindowUpdateThreshold, int64(tc.RecvWindow-tc.MaxMessageSize-MessageCreditOverhead))
		c.topics[i] = tp
		c.index[tc.ID] = uint8(i + 1)
	}
	c.pingLim = rate.NewLimiter(rate.Limit(p.pingRate), p.pingBurst)
	if p.recvRate > 0 {
		c.recvLim = rate.NewLimiter(rate.Limit(p.recvRate), max(recvRateBurst*p.recvRate, 4*frameBudget))
	}
	if p.notSentLowat > 0 {
		if err := SetNotSentLowat(t, p.notSentLowat); err != nil && !errors.Is(err, errors.ErrUnsupported) {
			p.log.Debug("mux: TCP_NOTSENT_LOWAT not set", "peer", c.remote.String(), "err", err)
		}
	}
	peerSettings, err := c.exchangeSettings(ctx)
	if err != nil {
		return nil, err
	}
	features, ie := negotiateFeatures(p.features, peerSettings.features)
	if ie != nil {
		return nil, fmt.Errorf("mux: settings exchange with %s: %w", c.remote.Short(), ie)
	}
	c.features = features
	c.applySettings(&peerSettings)
	c.lastRecv.Store(0)
	return c, nil
}

// topicByID returns our topic id, or nil.
func (c *MultiConn) topicByID(id uint8) *topic {
	if i := c.index[id]; i != 0 {
		return c.topics[i-1]
	}
	return nil
}

// offset returns t as nanoseconds since the connection was made.
func (c *MultiConn) offset(t time.Time) int64 { return int64(t.Sub(c.base)) }

// RemoteID returns the peer's authenticated identity.
func (c *MultiConn) RemoteID() crypto.ID { return c.remote }

// RemoteMeta returns what the peer declared in the handshake. The caller
// must not modify it.
func (c *MultiConn) RemoteMeta() *pb.PeerMeta { return c.meta }

// Transport returns the connection the MultiConn runs over, e.g. for its
// addresses. Reading or writing it breaks the MultiConn.
func (c *MultiConn) Transport() Transport { return c.t }

// CanSend reports whether topic is one we may send on: configured by us and
// declared by the peer.
func (c *MultiConn) CanSend(topic uint8) bool {
	t := c.topicByID(topic)
	return t != nil && t.sendable
}

// Done returns a channel that is closed when the connection has ended and
// its goroutines have exited.
func (c *MultiConn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is open. A goaway,
// sent or received, is a *GoAwayError; a protocol violation by the peer is
// a *GoAwayError wrapping a *ViolationError; a dead peer matches
// ErrIdleTimeout; other errors are transport failures.
func (c *MultiConn) Err() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	c.end.Lock()
	defer c.end.Unlock()
	return c.end.cause
}

// RemoteGoAway returns the goaway the peer sent, or nil.
func (c *MultiConn) RemoteGoAway() *GoAwayError {
	c.end.Lock()
	defer c.end.Unlock()
	return c.end.remoteGoAway
}

// setCause records why the connection ends; the first cause wins.
func (c *MultiConn) setCause(err error) {
	c.end.Lock()
	if c.end.cause == nil {
		c.end.cause = err
	}
	var ge *GoAwayError
	if errors.As(err, &ge) && ge.Remote && c.end.remoteGoAway == nil {
		c.end.remoteGoAway = ge
	}
	c.end.Unlock()
}

// closedErr is what send calls return once the connection is closing.
func (c *MultiConn) closedErr() error {
	c.end.Lock()
	cause := c.end.cause
	c.end.Unlock()
	if cause == nil {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, cause)
}
