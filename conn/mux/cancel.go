package mux

import "sync/atomic"

// Handle names one message queued by TrySendCancelable, for Cancel. The
// zero Handle names no message.
type Handle uint64

// handles numbers cancelable messages across all connections, so a handle
// of one connection never names a message of another.
var handles atomic.Uint64

// TrySendCancelable is TrySendPrefixed that also returns a handle with
// which Cancel can withdraw the message while it still waits in the
// queue. Like TrySend it never blocks, and it does not copy msg.
func (c *MultiConn) TrySendCancelable(topic uint8, prefix, msg []byte) (Handle, error) {
	var m outMsg
	if err := m.setPrefixed(prefix, msg); err != nil {
		return 0, err
	}
	m.handle = Handle(handles.Add(1))
	if err := c.trySend(topic, &m); err != nil {
		return 0, err
	}
	return m.handle, nil
}

// Cancel withdraws the message h from topic's send queue if none of its
// bytes has been sent yet, and reports whether it did. A withdrawn message
// is counted in Stats.Cancelled, never as unsent or lost, and its room in
// the queue is free at once. A message already started, already sent, or
// dropped with the connection is not cancelled (false): a started message
// cannot be cut short on the wire.
func (c *MultiConn) Cancel(topic uint8, h Handle) bool {
	if h == 0 {
		return false
	}
	t := c.topicByID(topic)
	if t == nil {
		return false
	}
	c.w.Lock()
	defer c.w.Unlock()
	q := &t.q
	for i := range q.n {
		if i == 0 && t.started {
			continue
		}
		m := &q.buf[(q.head+i)%len(q.buf)]
		if m.handle != h {
			continue
		}
		t.qBytes -= m.size()
		q.remove(i)
		c.st.cancelled.Add(1)
		if t.space != nil {
			close(t.space)
			t.space = nil
		}
		return true
	}
	return false
}

// remove deletes the i-th message from the front, keeping the order of
// the rest.
func (q *msgQueue) remove(i int) {
	if i == 0 {
		q.pop()
		return
	}
	for j := i; j < q.n-1; j++ {
		q.buf[(q.head+j)%len(q.buf)] = q.buf[(q.head+j+1)%len(q.buf)]
	}
	q.buf[(q.head+q.n-1)%len(q.buf)] = outMsg{}
	q.n--
}
