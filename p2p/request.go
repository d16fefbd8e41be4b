package p2p

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/peerset"
)

// Request/response (docs/PROTOCOL.md §9.4). A topic whose TopicConfig sets
// Requests carries, besides direct and gossip messages, requests that a
// peer answers once: Node.Request sends one and waits for its answer;
// Node.HandleRequests registers the function that answers the peer's.
// Each request has an ID chosen by its caller, unique per connection, and
// the answer (a response or an error with a code) carries it back. Inbox,
// Next and Handle never see requests or answers: they are a separate
// stream of the same topic.

// RequestConfig declares a topic as request/response. The zero value of
// each field means its default. All nodes of a network should agree on
// it per topic: a response over the caller's MaxResponseSize is a
// protocol violation, and a node's own Request never sends more than
// MaxConcurrent requests at once to one peer on the topic.
type RequestConfig struct {
	// MaxRequestSize bounds one request's bytes. Default the topic's
	// MaxMessageSize; at most mux.MaxMessageSizeLimit less 256 bytes.
	MaxRequestSize int
	// MaxResponseSize bounds one response's bytes. Default the topic's
	// MaxMessageSize; same bound.
	MaxResponseSize int
	// MaxConcurrent is how many requests of one peer this node handles at
	// once on the topic (and how many its Request sends to one peer at
	// once); a peer's request beyond it is refused "overloaded". Default
	// 8, at most 1024.
	MaxConcurrent int
	// Timeout is how long Request waits when its context has no deadline,
	// and the longest a handler of this node runs for one request (its
	// context's deadline is the earlier of this and what the caller
	// stated). Default 10 s, at most 10 min.
	Timeout time.Duration
}

// withDefaults returns rc with its defaults filled in for a topic whose
// messages are at most maxMsg bytes, or an error naming the field of
// Config.Topics[i] that is out of range.
func (rc RequestConfig) withDefaults(i, maxMsg int) (*RequestConfig, error) {
	field := func(name string) string { return fmt.Sprintf("Topics[%d].Requests.%s", i, name) }
	limit := mux.MaxMessageSizeLimit - gossipOverhead
	for _, f := range []struct {
		name string
		v    *int
	}{{"MaxRequestSize", &rc.MaxRequestSize}, {"MaxResponseSize", &rc.MaxResponseSize}} {
		if *f.v == 0 {
			*f.v = maxMsg
		}
		if *f.v < 0 || *f.v > limit {
			return nil, fieldErr(field(f.name), "%d outside 1-%d", *f.v, limit)
		}
	}
	if rc.MaxConcurrent == 0 {
		rc.MaxConcurrent = DefaultMaxConcurrentRequests
	}
	if rc.MaxConcurrent < 0 || rc.MaxConcurrent > MaxConcurrentRequestsLimit {
		return nil, fieldErr(field("MaxConcurrent"), "%d outside 1-%d", rc.MaxConcurrent, MaxConcurrentRequestsLimit)
	}
	if rc.Timeout == 0 {
		rc.Timeout = DefaultRequestTimeout
	}
	if rc.Timeout < time.Millisecond || rc.Timeout > MaxRequestTimeout {
		return nil, fieldErr(field("Timeout"), "%v outside 1ms-%v", rc.Timeout, MaxRequestTimeout)
	}
	return &rc, nil
}

// RequestHandler answers one request from peer from: it returns the
// response, or an error the caller receives as a *RequestError — a
// *RequestError's own code and message, any other error's text with code
// RequestRefused. ctx ends when the caller cancels or gives up (a cancel
// message), at the handler's deadline (RequestConfig.Timeout or the
// caller's, the earlier), when the connection closes and at Stop; a
// handler should return soon after. req is valid until it returns. A
// panic is recovered and answered RequestInternal; the node carries on.
type RequestHandler func(ctx context.Context, from crypto.ID, req []byte) ([]byte, error)

// RequestCode says why a request failed; it is carried on the wire in an
// error response (docs/PROTOCOL.md §9.4).
type RequestCode uint8

// Request error codes.
const (
	// RequestUnknownTopic: the peer does not serve requests on the topic
	// (not a request/response topic there, or no handler registered).
	RequestUnknownTopic RequestCode = 1
	// RequestRefused: the handler declined (an error that is not a
	// *RequestError).
	RequestRefused RequestCode = 2
	// RequestTooLarge: the request, or the handler's response, exceeds the
	// topic's maximum.
	RequestTooLarge RequestCode = 3
	// RequestOverloaded: the peer already handles MaxConcurrent requests of
	// ours on the topic.
	RequestOverloaded RequestCode = 4
	// RequestInternal: the handler panicked.
	RequestInternal RequestCode = 5
	// RequestTimeout: no answer before the deadline (the caller's, or the
	// handler's on the peer).
	RequestTimeout RequestCode = 6
)

var requestCodeNames = [...]string{"", "unknown-topic", "refused", "too-large", "overloaded", "internal", "timeout"}

// String returns the code's stable label, e.g. "overloaded".
func (c RequestCode) String() string {
	if c > 0 && int(c) < len(requestCodeNames) {
		return requestCodeNames[c]
	}
	return "code(" + strconv.Itoa(int(c)) + ")"
}

// RequestError is how a request fails once it reached the request/response
// machinery: match the code with errors.Is against the ErrRequest values
// (errors.Is(err, p2p.ErrRequestOverloaded)) or read it with errors.As. A
// local timeout also matches context.DeadlineExceeded.
type RequestError struct {
	// Code says what went wrong; a code this version does not know is
	// kept as sent.
	Code RequestCode
	// Topic and Peer name the request.
	Topic uint8
	Peer  crypto.ID
	// Remote reports that the peer sent this error; otherwise the node
	// decided it (a timeout, a request over the topic's maximum).
	Remote bool
	// Message is the explanation; when Remote, it is the peer's text
	// (valid UTF-8, at most MaxRequestErrorText bytes) and not to be
	// trusted.
	Message string
	// Err is the underlying error, if any (a local timeout's context error).
	Err error
}

// Error says which request failed, how, and who said so.
func (e *RequestError) Error() string {
	s := "p2p: request on topic " + strconv.Itoa(int(e.Topic))
	if !e.Peer.IsZero() {
		s += " to " + e.Peer.Short()
	}
	s += ": " + e.Code.String()
	if e.Remote {
		s += " (answered by the peer)"
	}
	if e.Message != "" {
		s += ": " + strconv.Quote(e.Message)
	}
	return s
}

// Unwrap returns Err.
func (e *RequestError) Unwrap() error { return e.Err }

// Is reports whether target is a *RequestError with the same code, so the
// ErrRequest values match any error of their code.
func (e *RequestError) Is(target error) bool {
	t, ok := target.(*RequestError)
	return ok && t.Code == e.Code
}

// Values to match a RequestError's code with errors.Is.
var (
	ErrRequestUnknownTopic = &RequestError{Code: RequestUnknownTopic}
	ErrRequestRefused      = &RequestError{Code: RequestRefused}
	ErrRequestTooLarge     = &RequestError{Code: RequestTooLarge}
	ErrRequestOverloaded   = &RequestError{Code: RequestOverloaded}
	ErrRequestInternal     = &RequestError{Code: RequestInternal}
	ErrRequestTimeout      = &RequestError{Code: RequestTimeout}
)

// RequestStats counts request/response traffic since the node started.
type RequestStats struct {
	// Sent is requests this node sent; Answered those answered with a
	// response in time, Failed those answered with an error response,
	// TimedOut those whose deadline passed first, Cancelled those whose
	// caller's context was cancelled first.
	Sent, Answered, Failed, TimedOut, Cancelled uint64
	// Late is answers that arrived after their request timed out or was
	// cancelled: dropped, never delivered, never punished.
	Late uint64
	// Served is peers' requests this node answered with a response;
	// Refused those answered with an error (no handler, too large, the
	// handler's error, the handler's timeout); Overloaded those refused
	// over MaxConcurrent; Panics handler panics (answered "internal");
	// CancelledByPeer those the caller cancelled while the handler ran
	// (not answered).
	Served, Refused, Overloaded, Panics, CancelledByPeer uint64
	// AnswersDropped is answers that could not be queued to the peer (its
	// queue full or the connection ending).
	AnswersDropped uint64
	// Violations is answers to requests never issued, or over the topic's
	// maximum response size, and reused request IDs: each closed the
	// connection (and counts in Stats.Violations too).
	Violations uint64
}

type rrCounters struct {
	sent, answered, failed, timedOut, cancelled, late    atomic.Uint64
	served, refused, overloaded, panics, cancelledByPeer atomic.Uint64
	answersDropped, violations                           atomic.Uint64
}

// RequestStats returns the node's request/response counters.
func (n *Node) RequestStats() RequestStats {
	c := &n.rr.st
	return RequestStats{
		Sent: c.sent.Load(), Answered: c.answered.Load(), Failed: c.failed.Load(), TimedOut: c.timedOut.Load(),
		Cancelled: c.cancelled.Load(), Late: c.late.Load(),
		Served: c.served.Load(), Refused: c.refused.Load(), Overloaded: c.overloaded.Load(), Panics: c.panics.Load(),
		CancelledByPeer: c.cancelledByPeer.Load(), AnswersDropped: c.answersDropped.Load(), Violations: c.violations.Load(),
	}
}

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
	return &RequestError{Code: RequestTimeout, Topic: topic, Peer: pc.id, Message: msg, Err: why}
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

// HandleRequests registers h to answer the peers' requests on topic, a
// request/response topic (TopicConfig.Requests). Each request runs h on its
// own goroutine, at most the topic's MaxConcurrent at once per peer. It is
// distinct from Handle, which receives the topic's one-way messages. It
// returns ErrUnknownTopic for a topic not declared or not request/response,
// and an error when the topic already has a request handler. A request
// that arrives while no handler is registered is answered
// RequestUnknownTopic, so register before Start or before dialing.
func (n *Node) HandleRequests(topic uint8, h RequestHandler) error {
	if h == nil {
		return errors.New("p2p: HandleRequests needs a non-nil handler")
	}
	t, err := n.topic(topic)
	if err != nil {
		return err
	}
	if t.cfg.Requests == nil {
		return fmt.Errorf("%w: topic %d is not a request/response topic (TopicConfig.Requests)", ErrUnknownTopic, topic)
	}
	if !n.rr.handlers[topic].CompareAndSwap(nil, &h) {
		return fmt.Errorf("p2p: topic %d already has a request handler", topic)
	}
	return nil
}

// onRR handles a request/response message on the connection's reader
// goroutine; it never blocks (answers it cannot queue at once are dropped
// and counted, requests run on their own goroutines).
func (n *Node) onRR(pc *peerConn, t *topicState, m *mux.Message) {
	w, err := parseRR(m.Data)
	if err != nil {
		m.Done()
		n.malformed(pc, err.Error())
		return
	}
	c, err := n.rrConnOf(pc)
	if err != nil {
		m.Done()
		return
	}
	switch w.kind {
	case kindRequest:
		n.serve(c, t, w, m) // m.Done once handled
		return
	case kindCancel:
		c.mu.Lock()
		if in := c.in[w.id]; in != nil {
			in.cancelled.Store(true)
			in.cancel()
		}
		c.mu.Unlock() // a cancel for a request already answered is normal
	default:
		n.onAnswer(c, t, w)
	}
	m.Done()
}

// onAnswer matches a response or error response to our request.
func (n *Node) onAnswer(c *rrConn, t *topicState, w rrMsg) {
	topic := t.cfg.ID
	rc := t.cfg.Requests
	if rc != nil && w.kind == kindResponse && len(w.body) > rc.MaxResponseSize {
		// The caller learns at once, then the peer pays for it.
		if o, _ := c.take(w.id, topic, n.s.Now()); o != nil {
			o.ch <- rrReply{err: &RequestError{Code: RequestTooLarge, Topic: topic, Peer: c.pc.id, Remote: true,
				Message: fmt.Sprintf("response of %d bytes over the topic's maximum of %d", len(w.body), rc.MaxResponseSize)}}
		}
		n.rrViolation(c, fmt.Sprintf("response of %d bytes on topic %d over the maximum of %d", len(w.body), topic, rc.MaxResponseSize))
		return
	}
	o, late := c.take(w.id, topic, n.s.Now())
	switch {
	case o != nil && w.kind == kindResponse:
		o.ch <- rrReply{data: w.body}
	case o != nil:
		o.ch <- rrReply{err: &RequestError{Code: w.code, Topic: topic, Peer: c.pc.id, Remote: true, Message: w.text}}
	case late:
		n.rr.st.late.Add(1)
	default:
		n.rrViolation(c, fmt.Sprintf("answer to request %d on topic %d, which was never issued there or is answered already", w.id, topic))
	}
}

// rrViolation punishes a broken request/response exchange like any
// protocol violation, and closes the connection saying why; only the
// first of a connection counts.
func (n *Node) rrViolation(c *rrConn, why string) {
	if c.violated.Swap(true) {
		return
	}
	pc := c.pc
	n.rr.st.violations.Add(1)
	n.st.violations.Add(1)
	n.log.Info("protocol violation", "peer", pc.id.Short(), "violation", why)
	n.applyBan(n.set.Record(pc.id, peerset.EventProtocolViolation))
	n.goAway(pc.mc, mux.GoAwayProtocolViolation, why)
}

// refuse answers request id with an error at once, from the reader
// goroutine.
func (n *Node) refuseRequest(c *rrConn, topic uint8, id uint64, code RequestCode, text string) {
	if err := c.pc.mc.TrySend(topic, encodeError(id, code, text)); err != nil {
		n.rr.st.answersDropped.Add(1)
	}
}

// serve starts the handler of a peer's request, or refuses it; m stays
// charged to the peer's credit until the handler returns.
func (n *Node) serve(c *rrConn, t *topicState, w rrMsg, m *mux.Message) {
	topic := t.cfg.ID
	rc := t.cfg.Requests
	var h RequestHandler
	if rc != nil {
		if p := n.rr.handlers[topic].Load(); p != nil {
			h = *p
		}
	}
	if h == nil {
		m.Done()
		n.rr.st.refused.Add(1)
		n.refuseRequest(c, topic, w.id, RequestUnknownTopic, fmt.Sprintf("no request handler on topic %d", topic))
		return
	}
	if len(w.body) > rc.MaxRequestSize {
		m.Done()
		n.rr.st.refused.Add(1)
		n.refuseRequest(c, topic, w.id, RequestTooLarge, fmt.Sprintf("request of %d bytes over the maximum of %d", len(w.body), rc.MaxRequestSize))
		return
	}
	timeout := rc.Timeout
	if w.timeout > 0 && w.timeout < timeout {
		timeout = w.timeout
	}
	c.mu.Lock()
	if c.in[w.id] != nil {
		c.mu.Unlock()
		m.Done()
		n.rrViolation(c, fmt.Sprintf("request ID %d reused while in flight", w.id))
		return
	}
	if c.busy[topic] >= rc.MaxConcurrent {
		c.mu.Unlock()
		m.Done()
		n.rr.st.overloaded.Add(1)
		n.refuseRequest(c, topic, w.id, RequestOverloaded, fmt.Sprintf("more than %d concurrent requests on topic %d", rc.MaxConcurrent, topic))
		if !c.overload.AllowN(n.s.Now(), 1) {
			n.onRateExcess(c.pc, topic)
		}
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	in := &inReq{cancel: cancel}
	c.in[w.id] = in
	c.busy[topic]++
	c.mu.Unlock()
	if !n.spawn(func() { n.runHandler(c, rc, topic, h, w, in, ctx, m) }) {
		c.handled(w.id, topic)
		cancel()
		m.Done()
	}
}

// handled ends the bookkeeping of the peer's request id.
func (c *rrConn) handled(id uint64, topic uint8) {
	c.mu.Lock()
	delete(c.in, id)
	c.busy[topic]--
	c.mu.Unlock()
}

// runHandler runs h for one request and sends its answer, unless the
// caller cancelled or the connection ended.
func (n *Node) runHandler(c *rrConn, rc *RequestConfig, topic uint8, h RequestHandler, w rrMsg, in *inReq, ctx context.Context, m *mux.Message) {
	defer m.Done()
	defer in.cancel()
	resp, panicked, err := callHandler(ctx, h, c.pc.id, w.body)
	// Free the slot before answering: a caller that sends its next request
	// on our answer must find it free.
	c.handled(w.id, topic)
	var msg []byte
	var re *RequestError
	switch {
	case c.ctx.Err() != nil:
		return // the connection or the node is gone
	case in.cancelled.Load():
		n.rr.st.cancelledByPeer.Add(1)
		return
	case panicked != nil:
		n.rr.st.panics.Add(1)
		n.log.Error("request handler panicked", "topic", topic, "peer", c.pc.id.Short(), "panic", fmt.Sprint(panicked))
		msg = encodeError(w.id, RequestInternal, "the handler failed")
	case err == nil && len(resp) > rc.MaxResponseSize:
		n.rr.st.refused.Add(1)
		n.log.Warn("request handler's response over the topic's maximum", "topic", topic, "bytes", len(resp), "max", rc.MaxResponseSize)
		msg = encodeError(w.id, RequestTooLarge, fmt.Sprintf("response of %d bytes over the maximum of %d", len(resp), rc.MaxResponseSize))
	case err == nil:
		n.rr.st.served.Add(1)
		msg = encodeResponse(w.id, resp)
	case errors.As(err, &re):
		n.rr.st.refused.Add(1)
		code := re.Code
		if code == 0 { // no code chosen: a refusal
			code = RequestRefused
		}
		msg = encodeError(w.id, code, re.Message)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		n.rr.st.refused.Add(1)
		msg = encodeError(w.id, RequestTimeout, "the handler did not finish in time")
	default:
		n.rr.st.refused.Add(1)
		msg = encodeError(w.id, RequestRefused, err.Error())
	}
	// A free queue is the common case: no timer for it.
	err = c.pc.mc.TrySend(topic, msg)
	if errors.Is(err, mux.ErrQueueFull) {
		sctx, cancel := context.WithTimeout(c.ctx, rc.Timeout)
		err = c.pc.mc.Send(sctx, topic, msg)
		cancel()
	}
	if err != nil {
		n.rr.st.answersDropped.Add(1)
	}
}

// callHandler runs h, turning a panic into its value.
func callHandler(ctx context.Context, h RequestHandler, from crypto.ID, req []byte) (resp []byte, panicked any, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, panicked, err = nil, r, nil
		}
	}()
	resp, err = h(ctx, from, req)
	return resp, nil, err
}
