package mux

// The send queues (send.go): a queued message, its optional prefix, and
// the per-topic ring of messages waiting for the writer.
// prioClass is the topics of one priority, taking turns.
type prioClass struct {
	topics []*topic
	next   int // whose turn it is
}

// outMsg is a queued message: a short prefix, copied by SendPrefixed, then
// the caller's bytes, not copied.
type outMsg struct {
	data   []byte
	handle Handle // non-zero: TrySendCancelable's, for Cancel (cancel.go)
	npre   uint8
	pre    [MaxSendPrefix]byte
}

// size returns the message's length on the wire.
func (m *outMsg) size() int { return int(m.npre) + len(m.data) }

// appendRange appends the message's bytes [off, off+n) to b.
func (m *outMsg) appendRange(b []byte, off, n int) []byte {
	if np := int(m.npre); off < np {
		k := min(n, np-off)
		b = append(b, m.pre[off:off+k]...)
		off, n = off+k, n-k
	}
	off -= int(m.npre)
	return append(b, m.data[off:off+n]...)
}

// msgQueue is a FIFO ring of messages that grows as needed and gives its
// memory back when it empties.
type msgQueue struct {
	buf  []outMsg
	head int
	n    int
}

func (q *msgQueue) push(m *outMsg) {
	if q.n == len(q.buf) {
		nb := make([]outMsg, max(4, 2*len(q.buf)))
		for i := range q.n {
			nb[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = *m
	q.n++
}

func (q *msgQueue) front() *outMsg { return &q.buf[q.head] }

func (q *msgQueue) pop() {
	q.buf[q.head] = outMsg{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	if q.n == 0 {
		q.head = 0
		if len(q.buf) > 16 {
			q.buf = nil
		}
	}
}
