package p2p

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/peerset"
)

// Chunked dissemination (docs/PROTOCOL.md §9.9). On a topic whose
// Dissemination is Chunked, Gossip of a message of at least the threshold
// floods only a small origin-signed header: the message's length, chunk
// size and the SHA-256 of every chunk; its ID is the hash of the header.
// The chunks travel apart. Each node pushes every chunk it has verified to
// a few neighbours (the eager set, chosen at random per message) as soon as
// it has it, and announces what it holds to the others (have bitmaps, at
// most one per message per neighbour per chunkTick); a node missing a
// chunk that a neighbour announced pulls it with a request on the same
// topic (§9.4), one announcer per chunk at a time, retrying another on
// failure. A node that receives a chunk it already has tells the sender
// dont-want, and the sender stops pushing that message to it and cancels
// the chunks still queued (mux.MultiConn.Cancel); a node that completes a
// message announces a full bitmap, which means the same to everyone. A
// push that finds the neighbour's queue full is not retried: the
// neighbour pulls instead, so nothing is lost. The application receives
// the message once, whole, after its validator accepted it.

// Dissemination is how Gossip spreads a topic's messages.
type Dissemination uint8

const (
	// Flood sends each message whole to every neighbour (§9.1).
	Flood Dissemination = iota
	// Chunked floods a header and spreads the chunks by push and pull.
	Chunked
)

// ChunkedConfig configures Chunked dissemination; the zero value of each
// field means its default.
type ChunkedConfig struct {
	// Threshold: messages of at least this many bytes go chunked,
	// smaller ones flood. Default DefaultChunkedThreshold.
	Threshold int
	// ChunkSize is the size of the chunks this node cuts its messages
	// into (MinChunkSize–MaxChunkSize). Default DefaultChunkSize.
	ChunkSize int
	// EagerPeers is how many neighbours this node pushes each message's
	// chunks to. Default DefaultEagerPeers.
	EagerPeers int
}

// chunkedDefaults checks and fills in the chunked settings of topic i; a
// Chunked topic becomes request/response (pulls are requests) and must be
// signed.
func (tc *TopicConfig) chunkedDefaults(i int) error {
	field := func(name string) string { return fmt.Sprintf("Topics[%d].%s", i, name) }
	switch tc.Dissemination {
	case Flood:
		if tc.Chunked != nil {
			return fieldErr(field("Chunked"), "set on a Flood topic; set Dissemination: Chunked")
		}
		return nil
	case Chunked:
	default:
		return fieldErr(field("Dissemination"), "%d is neither Flood nor Chunked", tc.Dissemination)
	}
	if tc.UnsignedGossip {
		return fieldErr(field("UnsignedGossip"), "a Chunked topic's headers are always signed")
	}
	cc := ChunkedConfig{}
	if tc.Chunked != nil {
		cc = *tc.Chunked
	}
	if cc.Threshold == 0 {
		cc.Threshold = DefaultChunkedThreshold
	}
	if cc.ChunkSize == 0 {
		cc.ChunkSize = min(DefaultChunkSize, tc.MaxMessageSize)
	}
	if cc.EagerPeers == 0 {
		cc.EagerPeers = DefaultEagerPeers
	}
	switch {
	case cc.Threshold < 1:
		return fieldErr(field("Chunked.Threshold"), "%d is below 1", cc.Threshold)
	case cc.ChunkSize < MinChunkSize || cc.ChunkSize > min(MaxChunkSize, tc.MaxMessageSize):
		return fieldErr(field("Chunked.ChunkSize"), "%d outside %d-%d (and the topic's MaxMessageSize)", cc.ChunkSize, MinChunkSize, min(MaxChunkSize, tc.MaxMessageSize))
	case cc.EagerPeers < 0 || cc.EagerPeers > 64:
		return fieldErr(field("Chunked.EagerPeers"), "%d outside 1-64", cc.EagerPeers)
	}
	tc.Chunked = &cc
	if tc.Requests == nil {
		tc.Requests = &RequestConfig{}
	} else if r := tc.Requests.MaxResponseSize; r != 0 && r < cc.ChunkSize {
		return fieldErr(field("Requests.MaxResponseSize"), "%d below Chunked.ChunkSize %d: pulls could not be answered", r, cc.ChunkSize)
	}
	return nil
}

// ChunkedStats counts chunked dissemination since the node started, all
// topics together.
type ChunkedStats struct {
	Originated       uint64 // messages this node sent chunked
	Headers          uint64 // new headers accepted
	HeaderDuplicates uint64 // headers already known
	HeadersRefused   uint64 // new headers over a memory cap, dropped
	HeadersStale     uint64 // headers with a timestamp out of range
	Completed        uint64 // messages received whole
	Delivered        uint64 // of them, delivered to the application
	Rejected         uint64 // of them, rejected or ignored by the validator
	Evicted          uint64 // partial messages given up (timeout, cap)

	// PayloadBytes are the chunk bytes received (pushed and pulled,
	// duplicates included): the figure to compare with the message size.
	PayloadBytes      uint64
	ChunksPushed      uint64 // chunks we queued to a neighbour
	PushesSkipped     uint64 // pushes not queued (queue full): the neighbour pulls
	ChunksReceived    uint64 // new chunks by push
	ChunksPulled      uint64 // new chunks by pull
	ChunkDuplicates   uint64 // chunks received that we had
	ChunksUnknown     uint64 // chunks, haves, dont-wants for messages we do not track
	BadChunks         uint64 // chunks not matching the header's hash (violations)
	Haves             uint64 // have bitmaps sent
	DontWants         uint64 // dont-wants sent
	Cancelled         uint64 // queued pushes withdrawn after a dont-want
	PullsSent         uint64 // pull requests made
	PullsFailed       uint64 // of them, failed (error, timeout): asked elsewhere
	PullsServed       uint64 // pull requests we answered with a chunk
	PullsRefused      uint64 // pull requests for chunks we do not hold or never announced
	UnservedPenalties uint64 // announcers penalised for not serving
}

type chunkedCounters struct {
	originated, headers, headerDups, headersRefused, headersStale   atomic.Uint64
	completed, delivered, rejected, evicted                         atomic.Uint64
	payloadBytes, pushed, pushSkipped, received, pulled, dups       atomic.Uint64
	unknown, bad, haves, dontWants, cancelled                       atomic.Uint64
	pullsSent, pullsFailed, pullsServed, pullsRefused, unservedPens atomic.Uint64
}

// ChunkedStats returns the node's chunked dissemination counters.
func (n *Node) ChunkedStats() ChunkedStats {
	c := &n.ckst
	return ChunkedStats{
		Originated: c.originated.Load(), Headers: c.headers.Load(), HeaderDuplicates: c.headerDups.Load(),
		HeadersRefused: c.headersRefused.Load(), HeadersStale: c.headersStale.Load(),
		Completed: c.completed.Load(), Delivered: c.delivered.Load(), Rejected: c.rejected.Load(), Evicted: c.evicted.Load(),
		PayloadBytes: c.payloadBytes.Load(), ChunksPushed: c.pushed.Load(), PushesSkipped: c.pushSkipped.Load(),
		ChunksReceived: c.received.Load(), ChunksPulled: c.pulled.Load(), ChunkDuplicates: c.dups.Load(),
		ChunksUnknown: c.unknown.Load(), BadChunks: c.bad.Load(), Haves: c.haves.Load(), DontWants: c.dontWants.Load(),
		Cancelled: c.cancelled.Load(), PullsSent: c.pullsSent.Load(), PullsFailed: c.pullsFailed.Load(),
		PullsServed: c.pullsServed.Load(), PullsRefused: c.pullsRefused.Load(), UnservedPenalties: c.unservedPens.Load(),
	}
}

// chunkEngine is one Chunked topic's state.
type chunkEngine struct {
	n     *Node
	t     *topicState
	topic uint8
	cfg   ChunkedConfig
	ticks atomic.Uint64 // ticks run, for tests

	mu    sync.Mutex // guards the fields below
	msgs  map[MessageID]*ckMsg
	bytes int               // chunk bytes held
	first map[crypto.ID]int // partial messages by the peer whose header came first
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
	pulls         int          // in flight
	pulling       map[int]bool // chunks being pulled
	seenAt        []time.Time  // when a chunk was first announced to us
	pusher        crypto.ID    // the first neighbour that pushed to us
	lastPush      time.Time    // when a pushed chunk last arrived
	pusherDropped bool         // we told the pusher dont-want and pull instead
	failed        map[int][]crypto.ID
}

// ckPeer is what a node knows of one neighbour for one message.
type ckPeer struct {
	has        []byte // its announcements
	full       bool   // it holds everything: no pushes, no haves
	noPush     bool   // it said dont-want: no pushes
	dwSent     bool   // we told it dont-want
	eager      bool   // we push to it
	upstream   bool   // it sent us the header too: not pushed to
	needHeader bool   // our forward of the header waits for room in its queue
	sent       []byte // chunks queued to it
	handles    map[int]mux.Handle
	lastHave   int // nhave when we last announced to it; -1 never
	unserved   int
	punished   bool
}

// initChunked sets up the chunked engine of a Chunked topic and takes its
// request handler (pulls); a flood topic gets none.
func (n *Node) initChunked(t *topicState) {
	if t.cfg.Dissemination != Chunked {
		return
	}
	e := &chunkEngine{n: n, t: t, topic: t.cfg.ID, cfg: *t.cfg.Chunked, msgs: map[MessageID]*ckMsg{}, first: map[crypto.ID]int{}}
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
	var out []*peerConn
	for _, pc := range e.n.connected() {
		if pc.mc.CanSend(e.topic) {
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
		seenAt: make([]time.Time, n), failed: map[int][]crypto.ID{}}
}

// chooseEager marks up to EagerPeers neighbours but except as eager.
func (e *chunkEngine) chooseEager(m *ckMsg, nbs []*peerConn, except crypto.ID) {
	idx := rand.Perm(len(nbs))
	k := 0
	for _, i := range idx {
		if k == e.cfg.EagerPeers {
			break
		}
		if nbs[i].id == except {
			continue
		}
		m.peer(nbs[i].id).eager = true
		k++
	}
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
	for _, pc := range nbs {
		m.peer(pc.id).needHeader = true
	}
	e.msgs[id] = m
	for _, c := range m.chunks {
		e.bytes += len(c)
	}
	e.chooseEager(m, nbs, crypto.ID{})
	e.mu.Unlock()
	n.ckst.originated.Add(1)
	res := n.sendAll(ctx, e.topic, hdr, crypto.ID{})
	e.mu.Lock()
	m.fwd = hdr // the tick retries the neighbours sendAll failed
	for _, pc := range nbs {
		if res[pc.id] != nil {
			continue
		}
		m.peer(pc.id).needHeader = false
		for i := range nc {
			e.pushLocked(m, pc, i)
		}
	}
	e.announceLocked(m, nbs)
	e.mu.Unlock()
	return id, res, nil
}

// pushLocked queues chunk i to pc if pc is eager, wants it and has not had
// it from us; a full queue makes pc lazy (it pulls).
func (e *chunkEngine) pushLocked(m *ckMsg, pc *peerConn, i int) {
	p := m.peer(pc.id)
	if !p.eager || p.needHeader || p.upstream || p.full || p.noPush || bitSet(p.has, i) || bitSet(p.sent, i) {
		return
	}
	h, err := pc.mc.TrySendCancelable(e.topic, nil, m.chunks[i])
	if err != nil {
		p.eager = false
		e.n.ckst.pushSkipped.Add(1)
		return
	}
	setBit(p.sent, i)
	if p.handles == nil {
		p.handles = map[int]mux.Handle{}
	}
	p.handles[i] = h
	e.n.ckst.pushed.Add(1)
}

// announceLocked sends our bitmap to each neighbour we do not push to
// (not eager, or eager but upstream or told dont-want) that is not full
// and has our header, when it changed since we last told it.
func (e *chunkEngine) announceLocked(m *ckMsg, nbs []*peerConn) {
	var msg []byte
	for _, pc := range nbs {
		if pc.id == m.from && !m.own && !m.done {
			continue // it sent us the header; it will not pull from us before we complete
		}
		p := m.peer(pc.id)
		if p.needHeader || p.full || p.lastHave == m.nhave || (p.eager && !p.noPush && !p.upstream && !m.done) {
			continue
		}
		if msg == nil {
			msg = encodeHave(m.id, m.have)
		}
		if pc.mc.TrySend(e.topic, msg) == nil {
			p.lastHave = m.nhave
			e.n.ckst.haves.Add(1)
		}
	}
}

// cancelLocked withdraws the pushes to p still queued.
func (e *chunkEngine) cancelLocked(pc *peerConn, p *ckPeer) {
	for i, h := range p.handles {
		if pc != nil && pc.mc.Cancel(e.topic, h) {
			e.n.ckst.cancelled.Add(1)
		}
		delete(p.handles, i)
	}
}

// onChunked handles a chunked message on the connection's reader
// goroutine; it never blocks.
func (n *Node) onChunked(pc *peerConn, t *topicState, m *mux.Message) {
	defer m.Done()
	e := t.ck
	if e == nil {
		n.malformed(pc, fmt.Sprintf("chunked message kind 0x%02x on a flood topic", m.Data[0]))
		return
	}
	var err error
	switch m.Data[0] {
	case kindChunkHeader:
		err = e.onHeader(pc, m.Data)
	case kindChunk:
		err = e.onChunk(pc, m.Data)
	case kindHave:
		err = e.onHave(pc, m.Data)
	case kindDontWant:
		err = e.onDontWant(pc, m.Data)
	}
	if err != nil {
		e.violation(pc, err.Error())
	}
}

// violation punishes a peer that broke the chunked protocol and closes its
// connection saying why; only the first of a connection counts.
func (e *chunkEngine) violation(pc *peerConn, why string) {
	n := e.n
	if c, err := n.rrConnOf(pc); err == nil && c.violated.Swap(true) {
		return
	}
	n.st.violations.Add(1)
	n.log.Info("protocol violation", "peer", pc.id.Short(), "violation", why)
	n.applyBan(n.set.Record(pc.id, peerset.EventProtocolViolation))
	n.goAway(pc.mc, mux.GoAwayProtocolViolation, why)
}

func (e *chunkEngine) onHeader(pc *peerConn, data []byte) error {
	n := e.n
	h, hops, err := parseChunkHeader(data, e.t.cfg.MaxMessageSize, uint8(n.s.HopLimit))
	if err != nil {
		return err
	}
	id := chunkedID(e.topic, h)
	now := n.s.Now()
	e.mu.Lock()
	if m := e.msgs[id]; m != nil {
		// pc has the header, so it gets the chunks from upstream: a push
		// to it would most likely be a duplicate.
		p := m.peer(pc.id)
		p.upstream = true
		e.mu.Unlock()
		n.ckst.headerDups.Add(1)
		return nil
	}
	e.mu.Unlock()
	if h.origin == n.ID() || n.seen.Has(id.key(), now) {
		n.ckst.headerDups.Add(1)
		return nil
	}
	if err := checkGossipTime(h.timeMs, now, n.s.GossipMaxAge, n.s.GossipMaxSkew); err != nil {
		n.ckst.headersStale.Add(1)
		return nil
	}
	if err := verifyChunkHeader(h, id); err != nil {
		return err
	}
	e.mu.Lock()
	if e.msgs[id] != nil {
		e.mu.Unlock()
		n.ckst.headerDups.Add(1)
		return nil
	}
	if e.first[pc.id] >= maxChunkedPerPeer || !e.makeRoomLocked(int(h.total), now) {
		e.mu.Unlock()
		n.ckst.headersRefused.Add(1)
		return nil
	}
	if n.seen.Add(id.key(), pc.id, n.seenBudget(), now) != seenNew {
		e.mu.Unlock()
		n.ckst.headersRefused.Add(1)
		return nil
	}
	m := newCkMsg(id, h, hops, pc.id, now)
	e.msgs[id] = m
	e.first[pc.id]++
	nbs := e.neighbours()
	e.chooseEager(m, nbs, pc.id)
	e.mu.Unlock()
	n.ckst.headers.Add(1)
	if hops > 1 {
		fwd := encodeChunkHeader(h, hops-1)
		e.mu.Lock()
		m.fwd = fwd
		for _, q := range nbs {
			if q.id != pc.id {
				m.peer(q.id).needHeader = true
			}
		}
		e.sendHeadersLocked(m, nbs)
		e.mu.Unlock()
	}
	return nil
}

// sendHeadersLocked forwards m's header to the neighbours still waiting
// for it. One whose queue is full gets it at a later tick: a header is
// never dropped, or the neighbour could miss the message.
func (e *chunkEngine) sendHeadersLocked(m *ckMsg, nbs []*peerConn) {
	for _, q := range nbs {
		p := m.peers[q.id]
		if p == nil || !p.needHeader {
			continue
		}
		if q.mc.TrySend(e.topic, m.fwd) == nil {
			p.needHeader = false
			e.n.st.gossipForwarded.Add(1)
		}
	}
}

// makeRoomLocked evicts what it must so another message of size bytes
// fits the caps, oldest complete messages first, and reports whether it
// fits.
func (e *chunkEngine) makeRoomLocked(size int, now time.Time) bool {
	for len(e.msgs) >= maxChunkedMessages || e.bytes+size > maxChunkedBytes {
		var victim *ckMsg
		for _, m := range e.msgs {
			if m.done && (victim == nil || m.created.Before(victim.created)) {
				victim = m
			}
		}
		if victim == nil {
			return false
		}
		e.dropLocked(victim)
	}
	return true
}

func (e *chunkEngine) dropLocked(m *ckMsg) {
	delete(e.msgs, m.id)
	for _, c := range m.chunks {
		e.bytes -= len(c)
	}
	if !m.done {
		e.n.ckst.evicted.Add(1)
		if e.first[m.from]--; e.first[m.from] <= 0 {
			delete(e.first, m.from)
		}
	}
	for id, p := range m.peers {
		if len(p.handles) > 0 {
			pc, _ := e.n.peerConn(id)
			e.cancelLocked(pc, p)
		}
	}
}

func (e *chunkEngine) onChunk(pc *peerConn, data []byte) error {
	id, i, b, err := parseChunk(data)
	if err != nil {
		return err
	}
	e.n.ckst.payloadBytes.Add(uint64(len(b)))
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.msgs[id]
	if m == nil {
		e.n.ckst.unknown.Add(1)
		return nil
	}
	if err := e.storeLocked(m, pc, i, b, false); err != nil {
		return err
	}
	return nil
}

// storeLocked verifies chunk i of m from pc, stores a copy, forwards it to
// the eager set and, once m is whole, announces it and queues it for
// delivery. A duplicate earns pc a dont-want.
func (e *chunkEngine) storeLocked(m *ckMsg, pc *peerConn, i int, b []byte, pulled bool) error {
	n := e.n
	if i >= len(m.hdr.hashes) {
		return fmt.Errorf("chunk %d of a %d-chunk message", i, len(m.hdr.hashes))
	}
	if len(b) != m.hdr.chunkLen(i) || sha256.Sum256(b) != m.hdr.hashes[i] {
		n.ckst.bad.Add(1)
		return fmt.Errorf("chunk %d of message %s does not match its header's hash", i, m.id)
	}
	p := m.peer(pc.id)
	setBit(p.has, i)
	nbs := e.neighbours()
	if !pulled {
		m.lastPush = n.s.Now()
		if m.pusher.IsZero() {
			// One pusher per message is enough: the others are asked to
			// stop before they start, and serve by pull instead.
			m.pusher = pc.id
			for _, q := range nbs {
				if q.id != pc.id {
					e.dontWantLocked(m, q)
				}
			}
		} else if pc.id != m.pusher {
			e.dontWantLocked(m, pc)
		}
	}
	if bitSet(m.have, i) {
		n.ckst.dups.Add(1)
		return nil
	}
	if pulled {
		n.ckst.pulled.Add(1)
	} else {
		n.ckst.received.Add(1)
	}
	m.chunks[i] = append(chunkPrefix(m.id, i, len(b)), b...) // sent as is to the eager set
	e.bytes += len(m.chunks[i])
	setBit(m.have, i)
	m.nhave++
	for _, q := range nbs {
		if q.id != pc.id {
			e.pushLocked(m, q, i)
		}
	}
	if m.nhave < len(m.chunks) {
		return nil
	}
	m.done = true
	if e.first[m.from]--; e.first[m.from] <= 0 {
		delete(e.first, m.from)
	}
	n.ckst.completed.Add(1)
	e.announceLocked(m, nbs)
	e.t.push(inMsg{pc: pc, m: &mux.Message{}, at: n.s.Now(), ck: m})
	return nil
}

// dontWantLocked tells pc, once per message, to push m no more.
func (e *chunkEngine) dontWantLocked(m *ckMsg, pc *peerConn) {
	p := m.peer(pc.id)
	if p.dwSent || p.full {
		return
	}
	if pc.mc.TrySend(e.topic, encodeDontWant(m.id)) == nil {
		p.dwSent = true
		e.n.ckst.dontWants.Add(1)
	}
}

func (e *chunkEngine) onHave(pc *peerConn, data []byte) error {
	id, bm, err := parseHave(data)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.msgs[id]
	if m == nil {
		e.n.ckst.unknown.Add(1)
		return nil
	}
	if err := checkBitmap(bm, len(m.chunks)); err != nil {
		return err
	}
	p := m.peer(pc.id)
	now := e.n.s.Now()
	for i := range m.chunks {
		if bitSet(bm, i) {
			setBit(p.has, i)
			if m.seenAt[i].IsZero() {
				m.seenAt[i] = now
			}
		}
	}
	if !p.full && bitmapCount(p.has) == len(m.chunks) {
		p.full = true
		e.cancelLocked(pc, p)
	}
	return nil
}

func (e *chunkEngine) onDontWant(pc *peerConn, data []byte) error {
	id, err := parseDontWant(data)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.msgs[id]
	if m == nil {
		e.n.ckst.unknown.Add(1)
		return nil
	}
	p := m.peer(pc.id)
	p.noPush = true
	e.cancelLocked(pc, p)
	return nil
}

// tick announces what changed, starts pulls and evicts what expired.
func (e *chunkEngine) tick() {
	defer e.ticks.Add(1)
	n := e.n
	now := n.s.Now()
	nbs := e.neighbours()
	byID := make(map[crypto.ID]*peerConn, len(nbs))
	for _, pc := range nbs {
		byID[pc.id] = pc
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.msgs {
		switch {
		case m.done && now.Sub(m.created) > chunkedRetain,
			!m.done && now.Sub(m.created) > partialTimeout:
			e.dropLocked(m)
			continue
		}
		if m.fwd != nil {
			e.sendHeadersLocked(m, nbs)
		}
		if m.nhave > 0 {
			e.announceLocked(m, nbs)
		}
		if !m.done {
			e.pullLocked(m, byID, now)
		}
	}
}

// pullLocked starts pulls of m's missing chunks that a neighbour
// announced at least pullGrace ago, each from one announcer that has not
// failed it, spreading them over the announcers.
func (e *chunkEngine) pullLocked(m *ckMsg, byID map[crypto.ID]*peerConn, now time.Time) {
	if !m.pusher.IsZero() && !m.pusherDropped {
		if now.Sub(m.lastPush) < pushIdle {
			return // the pusher is sending: a pull would race it
		}
		// The pusher stalled: stop it, so what it would push late is not
		// a duplicate of what we pull now.
		m.pusherDropped = true
		if pc := byID[m.pusher]; pc != nil {
			e.dontWantLocked(m, pc)
		}
	}
	load := map[crypto.ID]int{}
	limit := e.t.cfg.Requests.MaxConcurrent
	for i := range m.chunks {
		if m.pulls >= maxPullsPerMessage {
			return
		}
		if bitSet(m.have, i) || m.pulling[i] || m.seenAt[i].IsZero() || now.Sub(m.seenAt[i]) < pullGrace {
			continue
		}
		var best *peerConn
		for id, p := range m.peers {
			pc := byID[id]
			if pc == nil || p.punished || !bitSet(p.has, i) || slices.Contains(m.failed[i], id) || load[id] >= limit {
				continue
			}
			if best == nil || load[id] < load[best.id] {
				best = pc
			}
		}
		if best == nil {
			if len(m.failed[i]) > 0 {
				m.failed[i] = nil // everyone failed it once: try again
			}
			continue
		}
		load[best.id]++
		m.pulling[i] = true
		m.pulls++
		pc, idx := best, i
		if !e.n.spawn(func() { e.pull(m, pc, idx) }) {
			m.pulling[i] = false
			m.pulls--
			return
		}
	}
}

// pull asks pc for chunk i of m.
func (e *chunkEngine) pull(m *ckMsg, pc *peerConn, i int) {
	n := e.n
	n.ckst.pullsSent.Add(1)
	ctx, cancel := context.WithTimeout(n.ctx, pullTimeout)
	b, err := n.Request(ctx, pc.id, e.topic, encodePull(m.id, i))
	cancel()
	if err == nil {
		n.ckst.payloadBytes.Add(uint64(len(b)))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	m.pulling[i] = false
	m.pulls--
	if e.msgs[m.id] != m {
		return
	}
	if err == nil {
		if err = e.storeLocked(m, pc, i, b, true); err != nil {
			e.violation(pc, err.Error())
		}
		return
	}
	n.ckst.pullsFailed.Add(1)
	m.failed[i] = append(m.failed[i], pc.id)
	p := m.peer(pc.id)
	if errors.Is(err, context.Canceled) && n.ctx.Err() != nil {
		return
	}
	if p.unserved++; p.unserved >= unservedLimit && !p.punished {
		p.punished = true
		n.log.Debug("announcer does not serve", "peer", pc.id.Short(), "message", m.id.String(), "err", err)
		// Counted once the peer has paid, so a reader of the counter
		// also sees the score it cost.
		n.applyBan(n.set.Record(pc.id, peerset.EventInvalidMessage))
		n.ckst.unservedPens.Add(1)
	}
}

// errNotHeld answers a pull of a chunk we do not hold.
var errNotHeld = errors.New("chunk not held")

// serve answers a pull request: the chunk, if we hold it.
func (e *chunkEngine) serve(_ context.Context, from crypto.ID, req []byte) ([]byte, error) {
	id, i, err := parsePull(req)
	if err != nil {
		e.n.ckst.pullsRefused.Add(1)
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.msgs[id]
	if m == nil || i >= len(m.chunks) || !bitSet(m.have, i) {
		e.n.ckst.pullsRefused.Add(1)
		return nil, errNotHeld
	}
	e.n.ckst.pullsServed.Add(1)
	return m.chunks[i][chunkHead:], nil
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
