package p2p

import (
	"context"
	"errors"
	"fmt"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/peerset"
)

// The serving side of request/response (request.go): dispatch of the
// request/response kinds, answers, and the handlers run with bounded
// concurrency.

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
	n.log.Info("protocol violation", "peer", pc.id.String(), "violation", why)
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

// handled ends the bookkeeping of the peer's request id. On a transient
// connection that may leave it idle, so the queries waiting for a slot
// look again (transientFreed): an outbound one is then theirs to evict.
func (c *rrConn) handled(id uint64, topic uint8) {
	c.mu.Lock()
	delete(c.in, id)
	c.busy[topic]--
	c.mu.Unlock()
	if c.pc.transient {
		c.pc.n.transientFreed()
	}
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
		n.log.Error("request handler panicked", "topic", topic, "peer", c.pc.id.String(), "panic", fmt.Sprint(panicked))
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
