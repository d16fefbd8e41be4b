package p2p

// A topic's queue and inbox accounting (inbox.go delivers from them):
// inQueue, the pump's FIFO of received messages in pooled blocks, and
// inboxLedger, the bytes of Data in the inbox buffer.

import (
	"math/bits"
	"sync"
)

// inboxLedger accounts the bytes of Data in a topic's inbox buffer, so
// that it may buffer many small messages yet at most inboxBufferBytes
// (issue 13: sized by the topic's largest message, a 64 KiB topic's
// buffer held 16 messages, and a stream of small ones filled it within a
// single transport read, sending nearly every message through the pump).
// A channel is FIFO and the sends into inbox never overlap (see
// topicState.ledger), so the buffer holds the last len(inbox) messages
// sent: their bytes are a difference of the running total of bytes sent,
// which cum keeps for at least the last cap(inbox)+1 sends (4 bytes each).
type inboxLedger struct {
	cum  []uint32 // cum[i&mask]: the bytes of the first i sends, mod 2³²; nil when inbox is unbuffered
	mask uint64   // len(cum)-1: len(cum) is a power of two, so no division per message
	sent uint64   // sends recorded
}

// newInboxLedger returns the ledger of a channel buffering k > 0 messages:
// it keeps the running total of the last k+1 sends or more.
func newInboxLedger(k int) inboxLedger {
	r := uint64(1) << bits.Len(uint(k)) // > k
	return inboxLedger{cum: make([]uint32, r), mask: r - 1}
}

// room reports whether a message of size bytes of Data may go into the
// buffer of ch, the ledger's channel: the bytes in it (an upper bound:
// the application may be taking messages meanwhile) plus size stay
// within inboxBufferBytes. Always so for an unbuffered channel, which
// only hands messages over, and when the buffer holds no bytes (so that
// nothing waits forever, even a message over inboxBufferBytes, which a
// buffered channel's topic does not allow).
func (l *inboxLedger) room(ch chan *Message, size int) bool {
	if l.cum == nil {
		return true
	}
	in := l.bytes(ch)
	return in+size <= inboxBufferBytes || in == 0
}

// bytes returns the bytes of Data in the buffer of ch, the ledger's
// buffered channel, or fewer if receives are under way.
func (l *inboxLedger) bytes(ch chan *Message) int {
	return int(l.cum[l.sent&l.mask] - l.cum[(l.sent-uint64(len(ch)))&l.mask])
}

// record accounts a send of size bytes of Data into the ledger's channel.
func (l *inboxLedger) record(size int) {
	if l.cum == nil {
		return
	}
	prev := l.cum[l.sent&l.mask]
	l.sent++
	l.cum[l.sent&l.mask] = prev + uint32(size)
}

// inBlockLen is how many messages one block of a topic's queue holds.
const inBlockLen = 64

// inBlock is a piece of a topic's queue: a burst is a chain of them, so
// however long it grows nothing is copied (a growing slice copied each
// burst's messages about twice: 8% of a 256-byte stream's CPU in
// BenchmarkNodeSend, issue 13), and a block goes back to inBlocks once
// its messages are delivered, so an idle topic holds none.
type inBlock struct {
	items [inBlockLen]inMsg
	n     int // items[:n] are queued
	next  *inBlock
}

var inBlocks = sync.Pool{New: func() any { return new(inBlock) }}

// release clears b and returns it to the pool.
func (b *inBlock) release() {
	clear(b.items[:b.n])
	b.n, b.next = 0, nil
	inBlocks.Put(b)
}

// inQueue is a FIFO of received messages in blocks; the zero value is
// empty. It is guarded by its topic's q lock.
type inQueue struct {
	head, tail *inBlock
	len        int
}

func (q *inQueue) push(im inMsg) {
	if q.tail == nil || q.tail.n == inBlockLen {
		b := inBlocks.Get().(*inBlock)
		if q.tail == nil {
			q.head = b
		} else {
			q.tail.next = b
		}
		q.tail = b
	}
	q.tail.items[q.tail.n] = im
	q.tail.n++
	q.len++
}

// take empties the queue and returns its chain of blocks (nil if empty).
func (q *inQueue) take() *inBlock {
	head := q.head
	*q = inQueue{}
	return head
}
