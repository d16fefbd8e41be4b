package p2p

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// Message is one message delivered to an inbox. A direct one the topic's
// goroutine delivered (to a handler, or to an inbox behind others) shares
// its allocation with its connection's record of it, so an application
// that keeps Messages for long (released or not) keeps those records too,
// and through them the connection's state: keep Data (unreleased) or a
// copy of it instead.
type Message struct {
	// Topic is the topic it arrived on.
	Topic  uint8
	direct bool // a direct message (Release); in what was padding
	// From is the peer that sent it to us (for gossip: the last hop).
	From crypto.ID
	// Meta is what From said about itself in the handshake.
	Meta *pb.PeerMeta
	// ReceivedAt is when it arrived: for a direct or gossiped message, the
	// clock reading of the connection's read that took its last bytes from
	// the socket (mux.Message.ReceivedAt: one reading per read, shared by
	// the messages it completed, never decreasing per connection); for a
	// chunked one, when its last chunk was handled. Both are the node's
	// clock (Config.Clock).
	ReceivedAt time.Time
	// Data is the application's bytes.
	Data []byte
	// Gossip reports whether it was gossiped; then Origin and ID are set.
	Gossip bool
	// Origin is the peer that gossiped it first, as the envelope states
	// it. Only when OriginVerified is set has the origin's signature been
	// checked; otherwise (a topic with UnsignedGossip) any relay could
	// have claimed it, and it must not be taken for an identity.
	Origin crypto.ID
	// OriginVerified reports that the message carried a valid signature of
	// Origin's key over its ID (always, unless the topic is UnsignedGossip).
	OriginVerified bool
	// ID is the gossip message ID.
	ID MessageID

	// mm is the connection's message whose buffer Data is a slice of, for
	// a direct message (directMessage); nil otherwise, and after Release.
	// A direct Message the reader kept shares one allocation with it
	// (rxMessage).
	mm *mux.Message
}

// Release gives the buffer behind m.Data back once the application has
// finished with it (decoded it, copied it, written it out), to be reused
// for a later message of 64 KiB or more from any connection
// (mux.Message.Release), and sets m.Data to nil. Neither m.Data nor any
// slice of it may be used after Release. It is optional: a Message not
// released is collected as usual. It gives back a direct message's buffer;
// on a gossiped or chunked message (whose bytes the node may still be
// forwarding), a second call, or a Message not made by the node it does
// nothing. It is not safe for concurrent use with itself or with readers
// of m.Data. Receiving large messages into reused buffers spares an
// allocation, its zeroing and the collections they cause (1 MiB
// messages: docs/BENCHMARKS.md, issue 13).
func (m *Message) Release() {
	if !m.direct {
		return
	}
	if m.mm != nil {
		m.mm.Release()
	}
	m.Data, m.mm, m.direct = nil, nil, false
}

// inMsg is a message received from a connection, waiting for its topic's
// goroutine. Its bytes stay charged to the sender's credit until done.
type inMsg struct {
	pc *peerConn
	m  *mux.Message
	at time.Time
	ck *ckMsg // a chunked message received whole (chunked.go); m is empty
}

// topicState is one application topic: its queue of received messages and
// the inbox the application reads. The queue needs no bound of its own:
// each peer can have at most its credit window of bytes in it, so the total
// is bounded by peers × RecvWindow, and nothing is ever dropped.
type topicState struct {
	cfg *TopicConfig
	ck  *chunkEngine // Chunked topics only (chunked.go)
	// inbox is the application's channel. It buffers up to inboxBuffer
	// messages: a message's credit returns once it is in the channel and
	// the Data in the buffer totals at most inboxBufferBytes (ledger), so
	// the topic holds at most inboxBufferBytes beyond its peers' credit.
	inbox chan *Message
	// ledger accounts the bytes in inbox's buffer. It is used by whoever
	// may send into inbox: the pump while q.busy, otherwise the holder
	// of the q lock (Node.deliverNow).
	ledger inboxLedger

	q struct {
		sync.Mutex // guards the fields below
		items      inQueue
		closed     bool
		busy       bool // the pump holds a message it has not delivered
	}
	// held is how many messages of its current burst the pump has yet
	// to deliver (popAll).
	held atomic.Int64
	wake chan struct{} // capacity 1
	once sync.Once

	// recv is how the application receives this topic: set by the first
	// of Inbox, Next or Handle (receive.go), fixed from then on.
	recv struct {
		sync.Mutex // guards the fields below
		mode       recvMode
		handler    func(*Message)
	}
	// modeSet is closed when the receive mode is chosen. Until then the
	// topic's goroutine keeps messages out of the channel's buffer, which
	// a handler registered later would never read.
	modeSet chan struct{}
	// viaChannel is set once the mode is Inbox or Next: the connection's
	// reader may then put a direct message into the channel itself
	// (Node.deliverNow).
	viaChannel atomic.Bool
}

// inboxBuffer returns how many messages at most a topic's inbox channel
// buffers for a topic of messages up to maxMsg bytes (0: the default
// maximum): maxInboxBuffer when at least ledgerMinBuffer of its largest
// fit in inboxBufferBytes, the bytes then bounded by the ledger; else as
// many of its largest as fit, none for topics of messages over
// inboxBufferBytes (their every message is handed over).
func inboxBuffer(maxMsg int) int {
	if maxMsg <= 0 {
		maxMsg = mux.DefaultMaxMessageSize
	}
	if k := inboxBufferBytes / maxMsg; k < ledgerMinBuffer {
		return k
	}
	return maxInboxBuffer
}

// ledgerMinBuffer: a topic whose inbox buffer holds fewer of its largest
// messages keeps that count as its bound, as before the ledger (topics
// of the default 1 MiB maximum among them). Full of such messages, its
// buffer holds a few, and the pump waits for a place in a blocking send,
// woken by the application's receive, rather than looking again for
// bytes (waitRoom), which could leave an application that takes under
// a millisecond (roomPoll) per message without one. At 16 of them (64 KiB), the
// application has 15 to read while the pump waits.
const ledgerMinBuffer = 16

func newTopicState(cfg *TopicConfig) *topicState {
	k := inboxBuffer(cfg.MaxMessageSize)
	t := &topicState{cfg: cfg, inbox: make(chan *Message, k), wake: make(chan struct{}, 1),
		modeSet: make(chan struct{})}
	if k > 0 {
		t.ledger = newInboxLedger(k)
	}
	return t
}

// push queues a received message; it never blocks (it runs on a
// connection's reader goroutine).
func (t *topicState) push(im inMsg) {
	t.q.Lock()
	if t.q.closed {
		t.q.Unlock()
		im.m.Done()
		return
	}
	t.q.items.push(im)
	t.q.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// popAll takes every queued message at once, one lock per burst rather
// than per message, as a chain of blocks (nil when none is queued); the
// pump holds them (busy) until it comes back for more.
func (t *topicState) popAll() *inBlock {
	t.q.Lock()
	defer t.q.Unlock()
	n := t.q.items.len
	burst := t.q.items.take()
	t.q.busy = burst != nil
	t.held.Store(int64(n))
	return burst
}

// depth returns the number of queued messages, those the pump holds
// included.
func (t *topicState) depth() int {
	t.q.Lock()
	defer t.q.Unlock()
	return t.q.items.len + int(t.held.Load())
}

// drain returns every queued message's credit; used at Stop.
func (t *topicState) drain() {
	t.q.Lock()
	t.q.closed = true
	b := t.q.items.take()
	t.q.Unlock()
	doneBlocks(b, 0)
}

// doneBlocks returns the credit of the messages of the chain from b, from
// its i-th on, and releases the blocks.
func doneBlocks(b *inBlock, i int) {
	for b != nil {
		for _, im := range b.items[i:b.n] {
			im.m.Done()
		}
		next := b.next
		b.release()
		b, i = next, 0
	}
}

func (t *topicState) closeInbox() { t.once.Do(func() { close(t.inbox) }) }

// Inbox returns the receive-only channel of topic's messages, from every
// peer, each message once, in order per sender. A message stays charged to
// its sender's credit until it is received here or is in the channel's
// buffer within its bound (inboxBuffer: for a topic of messages up to 64
// KiB, up to 1,024 messages and 1 MiB of their Data; for larger ones as
// many of its largest as fit in 1 MiB, none over 1 MiB), so a slow reader slows
// only this topic's senders and nothing is dropped. The channel is closed
// after Stop. Use it in select loops; see receive.go for Next and Handle.
//
// Inbox panics, as a programmer error, when topic is not in Config.Topics
// or the topic already has a handler (Handle); InboxOf returns those as
// errors instead. It never returns a nil channel.
func (n *Node) Inbox(topic uint8) <-chan *Message {
	ch, err := n.InboxOf(topic)
	if err != nil {
		panic(err)
	}
	return ch
}

// rxMessage is what a connection's reader allocates for each message the
// node keeps past the reader's call (mux.Config.NewMessage, Message.Keep):
// the connection's Message and the Message a direct one becomes, in one
// allocation rather than two (issue 13: the second cost a 256-byte
// Node.Send about 45 ns and its share of garbage collection). Only direct
// messages use msg: those the topic goroutine delivers (to a handler, or
// to an inbox behind others), whose inbox Message holds mm until Release
// anyway. A gossiped one gets a Message of its own, so that holding it
// does not hold the envelope's bytes. A direct message deliverNow puts
// into the inbox from the reader needs no connection's Message at all.
type rxMessage struct {
	mm  mux.Message
	msg Message
}

func newRxMessage() *mux.Message {
	r := new(rxMessage)
	r.mm.Outer = r
	return &r.mm
}

// directMessage returns the Message a well-formed direct message
// delivers, or nil for anything else (gossip, malformed: parseAppMessage).
func directMessage(t *topicState, im *inMsg) *Message {
	data := im.m.Data
	if len(data) == 0 || data[0] != kindDirect || len(data)-1 > t.cfg.MaxMessageSize {
		return nil
	}
	return newDirect(t, im.pc, im.m, im.at)
}

// newDirect returns the Message of direct message m: in m's rxMessage,
// holding m for Release, when the node kept m (mux.Message.Keep); else a
// new one without it, for m is lent (mux.Config.LendMessages) and about
// to be reused, or not made by a connection's reader at all.
func newDirect(t *topicState, pc *peerConn, m *mux.Message, at time.Time) *Message {
	var msg *Message
	var kept *mux.Message
	if r, ok := m.Outer.(*rxMessage); ok {
		msg, kept = &r.msg, m
	} else {
		msg = new(Message)
	}
	*msg = Message{Topic: t.cfg.ID, From: pc.id, Meta: pc.meta, ReceivedAt: at, Data: m.Data[1:], direct: true, mm: kept}
	return msg
}

// deliverNow puts a direct message into its topic's channel from the
// connection's reader, skipping the topic's goroutine, when that changes
// nothing the application can see: the connection is an admitted peer's,
// not transient; the topic is read through its channel, nothing of it is
// queued or being delivered (so order holds); the channel takes the
// message without waiting; and the message is a well-formed direct one
// (anything else — gossip, malformed, handler topics — goes the usual
// way). It reports whether it delivered m, whose credit it then returns.
//
// onMessage calls it with the lent m first (mux Config.LendMessages), and
// the Message delivered is then a new one of its own: sparing the
// connection's Message its allocation is what sets a 256-byte Node.Send
// at ~0.93× the bare MultiConn rather than ~0.87× (issue 13,
// docs/BENCHMARKS.md). A message of 64 KiB or more, whose buffer Release
// gives back through the connection's Message, comes kept instead.
func (n *Node) deliverNow(pc *peerConn, m *mux.Message) bool {
	data := m.Data
	if len(data) == 0 || data[0] != kindDirect || pc.transient || pc.refused.Load() {
		return false
	}
	t := n.topicAt[m.Topic]
	if t == nil || !t.viaChannel.Load() || len(data)-1 > t.cfg.MaxMessageSize {
		return false
	}
	size := len(data) - 1
	t.q.Lock()
	if t.q.closed || t.q.busy || t.q.items.len != 0 || !t.ledger.room(t.inbox, size) {
		t.q.Unlock()
		return false
	}
	msg := newDirect(t, pc, m, m.ReceivedAt())
	select {
	case t.inbox <- msg:
		t.ledger.record(size)
	default: // the buffer is full and no reader waits
		t.q.Unlock()
		return false
	}
	t.q.Unlock()
	m.Done()
	n.st.delivered.Add(1)
	return true
}

// pump is the topic's goroutine: it handles queued messages in order,
// gossip first through validation, de-duplication and forwarding, then
// delivers to the inbox.
func (n *Node) pump(t *topicState) {
	defer t.drain()
	var handler func(*Message)
	chosen := false
	for {
		b := t.popAll()
		if b == nil {
			select {
			case <-t.wake:
				continue
			case <-n.ctx.Done():
				return
			}
		}
		for b != nil {
			for i := range b.n {
				if !n.pumpOne(t, &handler, &chosen, b.items[i]) {
					doneBlocks(b, i+1)
					t.held.Store(0)
					return
				}
				t.held.Add(-1)
			}
			next := b.next
			b.release()
			b = next
		}
	}
}

// pumpOne handles one message of the pump's burst and returns its credit;
// it reports false when the node stopped first.
func (n *Node) pumpOne(t *topicState, handler *func(*Message), chosen *bool, im inMsg) bool {
	defer im.m.Done()
	msg := n.handleApp(t, im)
	if msg == nil {
		return true
	}
	if !*chosen {
		select {
		case <-t.modeSet:
		case <-n.ctx.Done():
			return false
		}
		*chosen, *handler = true, t.handlerFunc() // fixed from now on
	}
	if !n.deliver(t, *handler, msg) {
		return false
	}
	n.st.delivered.Add(1)
	return true
}

// deliver hands msg to the topic's handler, or to its inbox channel once
// the application has chosen how to receive (pump). It returns once the
// message's credit may return (pumpOne): in the channel, and the bytes in
// its buffer within inboxBufferBytes (waitRoom). So the message that
// takes the buffer past 1 MiB is already the application's to take while
// its credit waits, and no bubble opens before it when the application
// is quick. It reports false when the node stopped first.
func (n *Node) deliver(t *topicState, handler func(*Message), msg *Message) bool {
	if handler != nil {
		handler(msg)
		return true
	}
	t.ledger.record(len(msg.Data)) // before the send: nobody else sends meanwhile
	select {
	case t.inbox <- msg: // room in the buffer, or a reader waiting
	default:
		select {
		case t.inbox <- msg:
		case <-n.ctx.Done():
			return false
		}
	}
	return t.ledger.room(t.inbox, 0) || n.waitRoom(t)
}

// roomPoll bounds how long the pump sleeps between two looks at the
// inbox buffer's bytes (waitRoom): an application that stops reading a
// topic with over 1 MiB in its buffer costs at most 1,000 wake-ups a
// second (at 100 µs it was 10,000; no benchmark here reaches the wait).
const roomPoll = time.Millisecond

// waitRoom waits until the bytes of Data in the inbox buffer are within
// inboxBufferBytes, and reports false when the node stopped first. The
// application's receives signal nothing but to a sender blocked on a full
// channel, and here the channel has free places, so the pump looks again
// after 10 µs, then twice as long each time up to roomPoll. Meanwhile the
// application has over 1 MiB to read, at least 15 messages, the one the
// pump waits with among them, and only that message's credit waits
// (deliver): it would run out only reading over 1 MiB a millisecond
// (about 1 GB/s), and then only while the pump's look is at its longest,
// after the application has not read for a millisecond or more.
func (n *Node) waitRoom(t *topicState) bool {
	d := 10 * time.Microsecond
	tm := time.NewTimer(d)
	defer tm.Stop()
	for {
		select {
		case <-tm.C:
		case <-n.ctx.Done():
			return false
		}
		if t.ledger.room(t.inbox, 0) {
			return true
		}
		d = min(2*d, roomPoll)
		tm.Reset(d)
	}
}
