package p2p

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
)

// Chunked dissemination (docs/PROTOCOL.md §9.9). On a topic whose
// Dissemination is Chunked, Gossip of a message of at least the threshold
// floods only a small origin-signed header: the message's length, chunk
// size and the SHA-256 of every chunk; its ID is the hash of the header.
// The chunks travel apart, down the header's tree: a node asks the
// neighbour its header came from to push the chunks (want), and each node
// pushes every chunk it has verified, as soon as it has it, to the first
// few neighbours that asked (the eager set; the origin picks its own at
// random). It announces what it holds to the others (have bitmaps, at
// most one per message per neighbour per chunkTick); a node missing a
// chunk that a neighbour announced, and not pushed it, pulls it with a
// request on the same topic (§9.4), one announcer per chunk at a time,
// retrying another on failure. A node that receives a chunk it already has tells the sender
// dont-want, and the sender stops pushing that message to it and cancels
// the chunks still queued (mux.MultiConn.Cancel); a node that completes a
// message announces a full bitmap, which means the same to everyone. A
// push that finds the neighbour's queue full is deferred, not dropped: at
// each chunkTick the node pushes that neighbour again what it still lacks,
// as the queue drains (resumePushesLocked), and a neighbour whose
// connection fails pulls instead, so nothing is lost. The application
// receives the message once, whole, after its validator accepted it.

// chunkEngine is one Chunked topic's state.
type chunkEngine struct {
	n     *Node
	t     *topicState
	topic uint8
	cfg   ChunkedConfig
	ticks atomic.Uint64 // ticks run, for tests

	mu       sync.Mutex // guards the fields below
	msgs     map[MessageID]*ckMsg
	bytes    int               // chunk bytes held
	first    map[crypto.ID]int // partial messages by the peer whose header came first
	inflight map[crypto.ID]int // our pulls in flight per neighbour, all messages together
	pulls    int               // our pulls in flight, all messages together

	// adversary, set by tests only, makes the node announce what it holds
	// and never push it; advSilent leaves pulls unanswered, advRefuse
	// refuses them.
	adversary adversary
}

// ckMsg is one chunked message a node tracks.
type ckMsg struct {
	id            MessageID
	hdr           *chunkHeader
	hops          uint8  // as received (ours: the hop limit)
	fwd           []byte // the header as we forward it (hops-1); nil: not forwarded
	from          crypto.ID
	own           bool
	created       time.Time
	chunks        [][]byte
	have          []byte // bitmap
	nhave         int
	done          bool // all chunks held
	peers         map[crypto.ID]*ckPeer
	pulls         int                 // in flight
	pulling       map[int]bool        // chunks being pulled
	seenAt        []time.Time         // when a chunk was first announced to us
	pusher        crypto.ID           // the first neighbour that pushed to us
	lastPush      time.Time           // when a pushed chunk last arrived
	pusherDropped bool                // we told the pusher dont-want and pull instead
	failed        map[int][]crypto.ID // announcers a pull of the chunk failed from
	retryAt       []time.Time         // no pull of the chunk before (every announcer failed it)
	eager         int                 // neighbours we push to
	wantPending   bool                // our want to the header's sender waits for room in its queue
	headersDue    int                 // neighbours still waiting for our forward of the header (sendHeadersLocked)
	blocked       int                 // eager neighbours whose pushes wait for room (resumePushesLocked)
	// annNhave is nhave at the last announcement pass and annClean says
	// that pass left nobody to tell: the tick skips the message until
	// nhave changes or a neighbour may have become one to tell (annDirty).
	annNhave int
	annClean bool
}

// ckPeer is what a node knows of one neighbour for one message.
type ckPeer struct {
	has        []byte // its announcements
	full       bool   // it holds everything: we push it nothing, announce it nothing
	noPush     bool   // it said dont-want: no pushes
	dwSent     bool   // we told it dont-want
	eager      bool   // we push to it
	start      int    // the chunk we push it first: eager neighbour k of e starts at k·N/e
	lazy       bool   // a push failed on a closing connection: it pulls
	blocked    bool   // a push found its queue full: the tick resumes as it drains
	needHeader bool   // our forward of the header waits for room in its queue
	sent       []byte // chunks queued to it
	handles    map[int]mux.Handle
	lastHave   int       // nhave when we last announced to it; -1 never
	heardAt    time.Time // when its last have came
	failures   int       // its pulls that failed (timeout, overload, refusal)
	served     int       // its pulls that it answered with the chunk
	unanswered []byte    // chunks it announced whose pull it left unanswered (bitmap; nil: none)
	silent     int       // of them, chunks we then got elsewhere
	punished   bool      // it refused, or left unanswered, chunks it announced: asked no more
}

// adversary is a test's misbehaving node (chunkEngine.adversary).
type adversary uint8

const (
	advNone adversary = iota
	advSilent
	advRefuse
)

// initChunked sets up the chunked engine of a Chunked topic and takes its
// request handler (pulls); a flood topic gets none.
func (n *Node) initChunked(t *topicState) {
	if t.cfg.Dissemination != Chunked {
		return
	}
	e := &chunkEngine{n: n, t: t, topic: t.cfg.ID, cfg: *t.cfg.Chunked, msgs: map[MessageID]*ckMsg{}, first: map[crypto.ID]int{},
		inflight: map[crypto.ID]int{}}
	t.ck = e
	h := RequestHandler(e.serve)
	n.rr.handlers[t.cfg.ID].Store(&h)
}

// startChunked runs each chunked engine's ticker until Stop.
func (n *Node) startChunked() {
	for _, t := range n.topics {
		if e := t.ck; e != nil {
			n.spawn(e.run)
		}
	}
}

func (e *chunkEngine) run() {
	tk := e.n.s.Clock.NewTicker(chunkTick)
	defer tk.Stop()
	for {
		select {
		case <-e.n.ctx.Done():
			return
		case <-tk.C():
			e.tick()
		}
	}
}

// neighbours returns the connected peers that serve the topic.
func (e *chunkEngine) neighbours() []*peerConn {
	p := e.n.sendTo.Load() // every tick: the set's lock and copy cost a fifth of a busy node's CPU
	if p == nil {
		return nil
	}
	out := make([]*peerConn, 0, len(*p))
	for _, pc := range *p {
		if pc.current.Load() && pc.mc.CanSend(e.topic) {
			out = append(out, pc)
		}
	}
	return out
}

func (m *ckMsg) peer(id crypto.ID) *ckPeer {
	p := m.peers[id]
	if p == nil {
		nb := (len(m.hdr.hashes) + 7) / 8
		p = &ckPeer{has: make([]byte, nb), sent: make([]byte, nb), lastHave: -1}
		m.peers[id] = p
	}
	return p
}

func newCkMsg(id MessageID, h *chunkHeader, hops uint8, from crypto.ID, now time.Time) *ckMsg {
	n := len(h.hashes)
	return &ckMsg{id: id, hdr: h, hops: hops, from: from, created: now, chunks: make([][]byte, n),
		have: make([]byte, (n+7)/8), peers: map[crypto.ID]*ckPeer{}, pulling: map[int]bool{},
		seenAt: make([]time.Time, n), failed: map[int][]crypto.ID{}, retryAt: make([]time.Time, n)}
}

// originate sends data chunked: the header to every neighbour, the chunks
// to the eager set, a full have to the rest.
func (e *chunkEngine) originate(ctx context.Context, data []byte) (MessageID, map[crypto.ID]error, error) {
	n := e.n
	cs := e.cfg.ChunkSize
	h := &chunkHeader{origin: n.ID(), nonce: rand.Uint64(), timeMs: uint64(max(0, n.s.Now().UnixMilli())),
		total: uint32(len(data)), chunkSize: uint32(cs)}
	nc := numChunks(h.total, h.chunkSize)
	if nc > MaxChunks {
		return MessageID{}, nil, fmt.Errorf("p2p: a %d-byte message is %d chunks of %d, over MaxChunks %d", len(data), nc, cs, MaxChunks)
	}
	h.hashes = make([][32]byte, nc)
	for i := range h.hashes {
		h.hashes[i] = sha256.Sum256(data[i*cs : min(len(data), (i+1)*cs)])
	}
	id := chunkedID(e.topic, h)
	h.key = n.id.PublicKey()
	h.sig = n.id.Sign(chunkedSigningInput(id))
	now := n.s.Now()
	n.seen.Add(id.key(), n.ID(), n.seenBudget(), now)
	m := newCkMsg(id, h, uint8(n.s.HopLimit), n.ID(), now)
	m.own, m.done, m.nhave = true, true, nc
	for i := range nc {
		c := data[i*cs : min(len(data), (i+1)*cs)]
		m.chunks[i] = append(chunkPrefix(id, i, len(c)), c...)
		setBit(m.have, i)
	}
	nbs := e.neighbours()
	hdr := encodeChunkHeader(h, m.hops)
	e.mu.Lock()
	e.makeRoomLocked(len(data), now)
	// Until its header is queued, a neighbour gets no have or chunk of
	// the message (the tick may run meanwhile): it would ignore them.
	// The origin pushes to EagerPeers neighbours at random without being
	// asked; their wants count against the same set.
	for k, i := range rand.Perm(len(nbs)) {
		p := m.peer(nbs[i].id)
		p.needHeader = true
		if k < e.cfg.EagerPeers {
			p.eager = true
			m.eager++
		}
	}
	e.msgs[id] = m
	for _, c := range m.chunks {
		e.bytes += len(c)
	}
	e.mu.Unlock()
	n.ckst.originated.Add(1)
	res := n.sendAll(ctx, e.topic, hdr, crypto.ID{})
	e.mu.Lock()
	m.fwd = hdr // the tick retries the neighbours sendAll failed
	for _, pc := range nbs {
		if res[pc.id] == nil {
			m.peer(pc.id).needHeader = false
			m.annDirty()
		} else {
			m.headersDue++
		}
	}
	// Chunk by chunk to every eager neighbour, so the first chunks leave
	// early on every link and the neighbours can forward them at once;
	// eager neighbour k starts at chunk k·nc/eager and wraps, so each
	// subtree gets a different part of the message first.
	var eager []*peerConn
	for _, pc := range nbs {
		if m.peer(pc.id).eager {
			eager = append(eager, pc)
		}
	}
	rand.Shuffle(len(eager), func(i, j int) { eager[i], eager[j] = eager[j], eager[i] })
	for k, pc := range eager {
		m.peer(pc.id).start = k * nc / len(eager)
	}
	for s := range nc {
		for _, pc := range eager {
			e.pushLocked(m, pc, (m.peer(pc.id).start+s)%nc)
		}
	}
	e.announceLocked(m, nbs)
	e.mu.Unlock()
	return id, res, nil
}

// pushLocked queues chunk i to pc if pc is eager, wants it and has not had
// it from us. The eager set is the first EagerPeers neighbours that asked
// (want: they learnt the header from us, we are their parent in the
// header's tree and their only pusher); the origin picks its own. A full
// queue defers the pushes to pc until the tick finds room (resumePushes):
// a message larger than the queue (16 MiB and up) is then still pushed,
// at the pace pc reads it, rather than pulled chunk by chunk. Any other
// failure (the connection is closing) makes pc lazy for the message.
func (e *chunkEngine) pushLocked(m *ckMsg, pc *peerConn, i int) {
	p := m.peer(pc.id)
	if e.adversary != advNone || !p.eager || p.blocked || p.needHeader || p.full || p.noPush || bitSet(p.has, i) || bitSet(p.sent, i) {
		return
	}
	h, err := pc.mc.TrySendCancelable(e.topic, nil, m.chunks[i])
	if errors.Is(err, mux.ErrQueueFull) {
		p.blocked = true
		m.blocked++
		e.n.ckst.pushSkipped.Add(1)
		return
	}
	if err != nil {
		p.eager, p.lazy = false, true
		m.annDirty()
		return
	}
	setBit(p.sent, i)
	if p.handles == nil {
		p.handles = map[int]mux.Handle{}
	}
	p.handles[i] = h
	e.n.ckst.pushed.Add(1)
}

// resumePushesLocked pushes again, in chunk order from the neighbour's
// first chunk (ckPeer.start) and wrapping, what m's eager neighbours whose
// queue was full still lack of what we hold, until a queue is full again. A blocked neighbour that is gone is unblocked too:
// should it come back on a new connection, pushes to it resume.
func (e *chunkEngine) resumePushesLocked(m *ckMsg, byID map[crypto.ID]*peerConn) {
	if m.blocked == 0 {
		return
	}
	m.blocked = 0
	for id, p := range m.peers {
		if !p.blocked {
			continue
		}
		p.blocked = false
		pc := byID[id]
		if pc == nil {
			continue
		}
		for s := range m.chunks {
			if i := (p.start + s) % len(m.chunks); bitSet(m.have, i) {
				e.pushLocked(m, pc, i)
				if p.blocked {
					break
				}
			}
		}
	}
}

// announceLocked sends our bitmap to each neighbour we do not push to
// (not eager, or eager but told dont-want) that is not full and has our
// header, when it changed since we last told it; to the ones we push to,
// once we are complete (a full bitmap is a dont-want too).
func (e *chunkEngine) announceLocked(m *ckMsg, nbs []*peerConn) {
	var msg []byte
	clean := true
	for _, pc := range nbs {
		p := m.peer(pc.id)
		if p.needHeader || p.full || p.lastHave == m.nhave || (p.eager && !p.noPush && !m.done) {
			continue
		}
		if msg == nil {
			msg = encodeHave(m.id, m.have)
		}
		if pc.mc.TrySend(e.topic, msg) == nil {
			p.lastHave = m.nhave
			e.n.ckst.haves.Add(1)
		} else {
			clean = false // its queue is full: the next tick tries again
		}
	}
	m.annNhave, m.annClean = m.nhave, clean
}

// annDirty notes that a neighbour of m may have become one to announce to
// (it got our header, said dont-want, or turned lazy).
func (m *ckMsg) annDirty() { m.annClean = false }

// annDue reports whether the tick should announce m.
func (m *ckMsg) annDue() bool { return m.nhave > 0 && !(m.annClean && m.annNhave == m.nhave) }

// cancelLocked withdraws the pushes to p still queued.
func (e *chunkEngine) cancelLocked(pc *peerConn, p *ckPeer) {
	for i, h := range p.handles {
		if pc != nil && pc.mc.Cancel(e.topic, h) {
			e.n.ckst.cancelled.Add(1)
		}
		delete(p.handles, i)
	}
}

// deliverChunked runs the validator on a complete message and returns it
// for delivery (on the topic's goroutine, handleApp). The chunks are
// joined here, once.
func (n *Node) deliverChunked(t *topicState, im inMsg) *Message {
	m := im.ck
	e := t.ck
	e.mu.Lock()
	data := make([]byte, 0, m.hdr.total)
	for _, c := range m.chunks {
		data = append(data, c[chunkHead:]...)
	}
	e.mu.Unlock()
	if v := t.cfg.Validator; v != nil && v(im.pc.id, m.hdr.origin, data) != Accept {
		// Relays forward chunks before the whole message exists, so no
		// relay is to blame: the message is dropped, nobody penalised.
		n.ckst.rejected.Add(1)
		return nil
	}
	n.ckst.delivered.Add(1)
	return &Message{Topic: t.cfg.ID, From: im.pc.id, Meta: im.pc.meta, ReceivedAt: im.at, Data: data,
		Gossip: true, Origin: m.hdr.origin, OriginVerified: true, ID: m.id}
}

// chunkedFor reports whether Gossip sends data chunked on t.
func (t *topicState) chunkedFor(data []byte) bool {
	return t.ck != nil && len(data) >= t.ck.cfg.Threshold
}
