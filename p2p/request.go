package p2p

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
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

	// unanswered: a timeout of a request that was sent (not one still
	// queued at the deadline).
	unanswered bool
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
