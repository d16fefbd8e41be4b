package p2p

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"golang.org/x/time/rate"
)

// The calling side of request/response (request.go): per-connection
// state, request IDs, Request and its timers, and the reputation an
// answer earns.

// rrState is the node's request/response state; the zero value is ready.
type rrState struct {
	handlers [256]atomic.Pointer[RequestHandler]
	mu       sync.Mutex // guards conns
	conns    map[*peerConn]*rrConn
	st       rrCounters
}

// rrConn is one connection's request/response state, from its first
// request or answer until the connection ends.
type rrConn struct {
	pc *peerConn
	// ctx ends when the connection does, or at Stop: it bounds handlers
	// and ends waiting callers.
	ctx    context.Context
	cancel context.CancelFunc
	// overload is the bucket of "overloaded" refusals the peer may cause
	// without penalty.
	overload *rate.Limiter
	// violated is set by the first violation: the connection is closing,
	// and what the peer sent after it is not charged again.
	violated atomic.Bool

	mu     sync.Mutex // guards the fields below
	nextID uint64
	out    map[uint64]*outReq // our requests awaiting an answer
	late   map[uint64]time.Time
	lateQ  []lateID                // late's IDs, oldest first
	in     map[uint64]*inReq       // the peer's requests being handled
	busy   map[uint8]int           // len(in) per topic
	slots  map[uint8]chan struct{} // our requests in flight per topic
	reward float64                 // earned by answers, not yet reported
}

type outReq struct {
	topic uint8
	ch    chan rrReply // capacity 1: the answer never waits
}

type rrReply struct {
	data []byte
	err  error
}

type lateID struct {
	id uint64
	at time.Time
}

type inReq struct {
	cancel    context.CancelFunc
	cancelled atomic.Bool // by the peer's cancel message
}

// gone is what a request waiting on a connection that ended returns:
// ErrClosed once the node stops, else errPeerGone.
func (n *Node) gone(id crypto.ID) error {
	if n.stopped() {
		return errStopped
	}
	return errPeerGone(id)
}

// errPeerGone is what a request on a connection that ended returns.
func errPeerGone(id crypto.ID) error {
	return fmt.Errorf("%w: %s disconnected", ErrUnknownPeer, id.Short())
}

// rrConnOf returns pc's request/response state, made on first use. A
// goroutine of the node drops it once the connection has ended.
func (n *Node) rrConnOf(pc *peerConn) (*rrConn, error) {
	n.rr.mu.Lock()
	defer n.rr.mu.Unlock()
	if c := n.rr.conns[pc]; c != nil {
		return c, nil
	}
	select {
	case <-pc.mc.Done():
		return nil, errPeerGone(pc.id)
	default:
	}
	ctx, cancel := context.WithCancel(n.ctx)
	c := &rrConn{pc: pc, ctx: ctx, cancel: cancel,
		overload: rate.NewLimiter(overloadAllowRate, overloadAllowBurst),
		out:      map[uint64]*outReq{}, late: map[uint64]time.Time{}, in: map[uint64]*inReq{},
		busy: map[uint8]int{}, slots: map[uint8]chan struct{}{}}
	if !n.spawn(func() {
		select {
		case <-pc.mc.Done():
		case <-ctx.Done():
		}
		cancel()
		n.rr.mu.Lock()
		if n.rr.conns[pc] == c {
			delete(n.rr.conns, pc)
		}
		n.rr.mu.Unlock()
	}) {
		cancel()
		return nil, errStopped
	}
	if n.rr.conns == nil {
		n.rr.conns = map[*peerConn]*rrConn{}
	}
	n.rr.conns[pc] = c
	return c, nil
}

// slot returns the semaphore of our requests in flight on topic.
// rrInFlight reports whether pc carries a request in flight: one of ours
// awaiting its answer, or one of the peer's being handled.
func (n *Node) rrInFlight(pc *peerConn) bool {
	n.rr.mu.Lock()
	c := n.rr.conns[pc]
	n.rr.mu.Unlock()
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.out) > 0 || len(c.in) > 0
}

func (c *rrConn) slot(topic uint8, size int) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slots[topic]
	if s == nil {
		s = make(chan struct{}, size)
		c.slots[topic] = s
	}
	return s
}

// issue records a new request on topic and returns its ID.
func (c *rrConn) issue(topic uint8) (uint64, *outReq) {
	o := &outReq{topic: topic, ch: make(chan rrReply, 1)}
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.out[id] = o
	c.mu.Unlock()
	return id, o
}

// expire turns a pending request into a late one, remembered until
// requestLateMemory has passed (or maxLateRequestIDs newer ones are), and
// reports whether it was still pending: false means its answer won the
// race and is in its channel.
func (c *rrConn) expire(id uint64, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.out[id]; !ok {
		return false
	}
	delete(c.out, id)
	for len(c.lateQ) > 0 && (len(c.lateQ) >= maxLateRequestIDs || now.Sub(c.lateQ[0].at) >= requestLateMemory) {
		if c.late[c.lateQ[0].id] == c.lateQ[0].at {
			delete(c.late, c.lateQ[0].id)
		}
		c.lateQ = c.lateQ[1:]
	}
	c.late[id] = now
	c.lateQ = append(c.lateQ, lateID{id, now})
	return true
}

// take removes and returns the pending request id on topic; late reports
// that id is a request that timed out or was cancelled recently (its one
// late answer is then accounted for). Neither means the answer is to a
// request never issued, or issued on another topic, or answered already.
func (c *rrConn) take(id uint64, topic uint8, now time.Time) (o *outReq, late bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o := c.out[id]; o != nil {
		if o.topic != topic {
			return nil, false
		}
		delete(c.out, id)
		return o, false
	}
	if at, ok := c.late[id]; ok && now.Sub(at) < requestLateMemory {
		delete(c.late, id)
		return nil, true
	}
	return nil, false
}

// Request sends req to peer on topic, a request/response topic
// (TopicConfig.Requests), and returns the peer's response. It waits until
// the answer arrives or ctx ends; a ctx without a deadline gets the
// topic's Timeout. At most the topic's MaxConcurrent requests to one peer
// are in flight at once; further calls wait for a slot (within ctx).
//
// A failure of the exchange is a *RequestError (match its code with
// errors.Is and the ErrRequest values): RequestTimeout when the deadline
// passes first (the peer is told to stop, and its late answer is dropped),
// the peer's error response with Remote set, RequestTooLarge for a req over
// the topic's MaxRequestSize. When ctx is cancelled, Request tells the peer
// (its handler's context ends) and returns ctx's error. It returns
// ErrUnknownTopic for a topic that is not a request/response topic or that
// the peer did not declare, and ErrUnknownPeer when the peer is not
// connected or disconnects while the request waits.
//
// An answer in time raises the peer's score slightly, the faster the more
// (DeltaRequestAnswered); a deadline of at least 100 ms passing unanswered
// lowers it (DeltaRequestTimeout).
func (n *Node) Request(ctx context.Context, peer crypto.ID, topic uint8, req []byte) ([]byte, error) {
	t := n.topics[topic]
	if t == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownTopic, topic)
	}
	return n.request(ctx, t, peer, req)
}

// request is Request on the topic t, which may be one of the node's own
// (DialBackTopic).
func (n *Node) request(ctx context.Context, t *topicState, peer crypto.ID, req []byte) ([]byte, error) {
	topic := t.cfg.ID
	rc := t.cfg.Requests
	if rc == nil {
		return nil, fmt.Errorf("%w: topic %d is not a request/response topic (TopicConfig.Requests)", ErrUnknownTopic, topic)
	}
	if len(req) > rc.MaxRequestSize {
		return nil, &RequestError{Code: RequestTooLarge, Topic: topic, Peer: peer,
			Message: fmt.Sprintf("request of %d bytes over the topic's maximum of %d", len(req), rc.MaxRequestSize)}
	}
	pc, err := n.peerConn(peer)
	if err != nil {
		return nil, err
	}
	return n.requestOn(ctx, t, pc, req)
}

// requestOn is request over the connection pc, which may be a transient
// one (transient.go).
func (n *Node) requestOn(ctx context.Context, t *topicState, pc *peerConn, req []byte) ([]byte, error) {
	topic, peer := t.cfg.ID, pc.id
	rc := t.cfg.Requests
	if !pc.mc.CanSend(topic) {
		return nil, fmt.Errorf("%w: peer %s did not declare topic %d", ErrUnknownTopic, peer.Short(), topic)
	}
	c, err := n.rrConnOf(pc)
	if err != nil {
		return nil, err
	}
	// Without a deadline of the caller's the topic's Timeout applies, on a
	// pooled timer rather than a derived context: the common case then
	// arms no context timer (docs/BENCHMARKS.md).
	deadline, hasDeadline := ctx.Deadline()
	var expired <-chan time.Time
	if !hasDeadline {
		deadline = time.Now().Add(rc.Timeout)
		tm := getTimer(rc.Timeout)
		defer putTimer(tm)
		expired = tm.C
	}
	slot := c.slot(topic, rc.MaxConcurrent)
	select {
	case slot <- struct{}{}:
	case <-ctx.Done():
		return nil, n.requestEnded(ctx.Err(), pc, topic, 0, false)
	case <-expired:
		return nil, n.requestEnded(context.DeadlineExceeded, pc, topic, 0, false)
	case <-c.ctx.Done():
		return nil, n.gone(peer)
	}
	defer func() { <-slot }()
	id, o := c.issue(topic)
	start := time.Now()
	wait := time.Until(deadline)
	msg := encodeRequest(id, wait, req)
	err = pc.mc.TrySend(topic, msg)
	if errors.Is(err, mux.ErrQueueFull) {
		sctx := ctx
		if !hasDeadline {
			var cancel context.CancelFunc
			sctx, cancel = context.WithDeadline(ctx, deadline)
			defer cancel()
		}
		err = pc.mc.Send(sctx, topic, msg)
	}
	if err != nil {
		c.expire(id, n.s.Now())
		switch {
		case ctx.Err() != nil:
			return nil, n.requestEnded(ctx.Err(), pc, topic, 0, false)
		case !time.Now().Before(deadline):
			return nil, n.requestEnded(context.DeadlineExceeded, pc, topic, 0, false)
		case c.ctx.Err() != nil:
			return nil, n.gone(peer)
		}
		return nil, fmt.Errorf("p2p: request on topic %d to %s: %w", topic, peer.Short(), err)
	}
	n.rr.st.sent.Add(1)
	var why error
	select {
	case r := <-o.ch:
		return n.answered(c, r, time.Since(start), wait)
	case <-ctx.Done():
		why = ctx.Err()
	case <-expired:
		why = context.DeadlineExceeded
	case <-c.ctx.Done():
		select {
		case r := <-o.ch: // answered before the connection closed (a violation closes it right after)
			return n.answered(c, r, time.Since(start), wait)
		default:
		}
		return nil, n.gone(peer)
	}
	if !c.expire(id, n.s.Now()) { // the answer came in as the wait ended
		return n.answered(c, <-o.ch, time.Since(start), wait)
	}
	// Tell the peer to stop; if its queue is full it finds out at its
	// own deadline, which is ours.
	_ = pc.mc.TrySend(topic, encodeCancel(id))
	return nil, n.requestEnded(why, pc, topic, wait, true)
}

// timers are stopped timers for Request's default deadline.
var timers sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

// putTimer stops t and keeps it for reuse: since Go 1.23 a stopped
// timer's channel holds no stale value, so its next Reset starts clean.
func putTimer(t *time.Timer) {
	t.Stop()
	timers.Put(t)
}

// requestEnded returns the error of a request whose wait ended with why
// (ctx's error, or context.DeadlineExceeded for the default deadline),
// counting it; a sent request whose deadline of at least
// minPenalizedTimeout passed costs the peer DeltaRequestTimeout.
func (n *Node) requestEnded(why error, pc *peerConn, topic uint8, wait time.Duration, sent bool) error {
	if !errors.Is(why, context.DeadlineExceeded) {
		n.rr.st.cancelled.Add(1)
		return why
	}
	n.rr.st.timedOut.Add(1)
	msg := "not sent before the deadline"
	if sent {
		msg = "no answer within " + wait.Round(time.Millisecond).String()
		if wait >= minPenalizedTimeout {
			n.applyBan(n.set.Report(pc.id, DeltaRequestTimeout, "request-timeout"))
		}
	}
	return &RequestError{Code: RequestTimeout, Topic: topic, Peer: pc.id, Message: msg, Err: why, unanswered: sent}
}

// answered returns an answer to the caller, folding it into the peer's
// score: a response in time earns answerDelta.
func (n *Node) answered(c *rrConn, r rrReply, rtt, wait time.Duration) ([]byte, error) {
	pc := c.pc
	if r.err != nil {
		n.rr.st.failed.Add(1)
		return nil, r.err
	}
	n.rr.st.answered.Add(1)
	if d := c.earn(answerDelta(rtt, wait)); d > 0 {
		n.set.Report(pc.id, d, "requests-answered") // positive: never bans
	}
	return r.data, nil
}

// earn adds d to the reward the peer has earned and not yet been given,
// and returns the reward to give now: the peer set rounds a score within
// 0.01 of 0 to 0, so rewards that small go in batches of rewardBatch.
func (c *rrConn) earn(d float64) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reward += d
	if c.reward < rewardBatch {
		return 0
	}
	d, c.reward = c.reward, 0
	return d
}

// answerDelta is the score an answer after rtt of a request that could
// wait wait earns: DeltaRequestAnswered for an instant answer, falling
// linearly to 0 at the deadline.
func answerDelta(rtt, wait time.Duration) float64 {
	if wait <= 0 || rtt >= wait {
		return 0
	}
	return DeltaRequestAnswered * (1 - float64(rtt)/float64(wait))
}
