package p2p

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/peerset"
	"github.com/peerwire/peerwire/proto/pb"
)

// onMessage runs on a connection's reader goroutine and must not block: it
// queues the message for its topic's goroutine. The reader starts only
// once the peer set has admitted the connection (setupPeer), so pc.peer is
// set; a refused peer's MultiConn never starts, and its messages reach
// neither the application, gossip nor PEX. A peer banned once admitted
// is read on while its connection closes; those messages are counted as
// discarded and dropped.
func (n *Node) onMessage(pc *peerConn, m *mux.Message) {
	// m is lent (mux.Config.LendMessages): a direct message the reader can
	// put into its inbox needs nothing of it afterwards, unless its buffer
	// is to go back to the connection (Pooled); anything else keeps it.
	if !m.Pooled() && n.deliverNow(pc, m) {
		return
	}
	m = m.Keep()
	if pc.refused.Load() { // banned: its connection is closing
		n.st.discarded.Add(1)
		m.Done()
		return
	}
	if pc.transient && !n.transientMessage(pc, m) {
		return
	}
	if m.Topic == PexTopic {
		n.onPex(pc, m)
		return
	}
	if m.Topic == DialBackTopic {
		n.onDialBackMessage(pc, m) // dialback.go
		return
	}
	t := n.topicAt[m.Topic]
	if t == nil {
		m.Done()
		return
	}
	if len(m.Data) > 0 && isRRKind(m.Data[0]) { // request/response: request.go
		n.onRR(pc, t, m)
		return
	}
	if len(m.Data) > 0 && isChunkedKind(m.Data[0]) { // chunked dissemination: chunked.go
		n.onChunked(pc, t, m)
		return
	}
	// The reader's clock reading of the transport read that completed m:
	// one per read, not one per message (issue 13).
	if m.Pooled() && n.deliverNow(pc, m) {
		return
	}
	t.push(inMsg{pc: pc, m: m, at: m.ReceivedAt()})
}

// handleApp turns a received message into what the inbox delivers, or nil
// when nothing is to be delivered (a duplicate, an ignored or rejected
// gossip message, a malformed message).
func (n *Node) handleApp(t *topicState, im inMsg) *Message {
	if im.ck != nil {
		return n.deliverChunked(t, im)
	}
	if msg := directMessage(t, &im); msg != nil {
		return msg // without parseAppMessage's result, most of it gossip's
	}
	am, err := parseAppMessage(t.cfg, uint32(n.s.HopLimit), im.m.Data)
	if am.gossip {
		n.st.gossipReceived.Add(1)
		n.st.gossipPayloadBytes.Add(uint64(len(am.payload)))
	}
	if err != nil {
		n.malformed(im.pc, err.Error())
		return nil
	}
	if !am.gossip {
		return &Message{Topic: t.cfg.ID, From: im.pc.id, Meta: im.pc.meta, ReceivedAt: im.at, Data: am.payload}
	}
	return n.handleGossip(t, im, am)
}

func (n *Node) malformed(pc *peerConn, why string) {
	n.st.malformed.Add(1)
	n.log.Debug("malformed message", "peer", pc.id.String(), "why", why)
	n.applyBan(n.set.Record(pc.id, peerset.EventInvalidMessage))
}

// appMessage is a decoded message of an application topic.
type appMessage struct {
	gossip  bool
	payload []byte
	env     *pb.GossipEnvelope // gossip only
	id      MessageID          // gossip only
	origin  crypto.ID          // gossip only
}

// parseAppMessage decodes and checks one message of an application topic
// (docs/PROTOCOL.md §9): the kind byte, then the application's bytes or a
// gossip envelope, bounded by the topic's maximum. The origin's signature
// is not checked here (verifyOrigin, once the message is known to be new).
// A hop count above
// hopLimit is cut to it: the hop limit is each node's own setting, so a
// neighbour with a higher one is not misbehaving (hops are outside the ID
// and the signature). It never panics on any input.
func parseAppMessage(tc *TopicConfig, hopLimit uint32, data []byte) (appMessage, error) {
	var am appMessage
	if len(data) == 0 {
		return am, errors.New("empty message")
	}
	switch data[0] {
	case kindDirect:
		if len(data)-1 > tc.MaxMessageSize {
			return am, errors.New("direct message over the topic's maximum")
		}
		am.payload = data[1:]
		return am, nil
	case kindGossip:
	default:
		return am, fmt.Errorf("unknown message kind 0x%02x", data[0])
	}
	am.gossip = true
	env := &pb.GossipEnvelope{}
	if err := proto.Unmarshal(data[1:], env); err != nil {
		return am, fmt.Errorf("gossip envelope: %w", err)
	}
	if len(env.Payload) > tc.MaxMessageSize {
		return am, errors.New("gossip payload over the topic's maximum")
	}
	if env.Hops > hopLimit {
		env.Hops = hopLimit
	}
	id, origin, err := checkEnvelope(tc.ID, env, hopLimit)
	if err != nil {
		return am, err
	}
	am.env, am.id, am.origin, am.payload = env, id, origin, env.Payload
	return am, nil
}

// handleGossip checks the timestamp, de-duplicates, verifies, validates
// and forwards a decoded gossip message, and returns it for delivery when
// it is new and accepted (docs/PROTOCOL.md §9.1). A timestamp out of range
// is dropped without penalty (clocks drift); so is a new message from a
// peer over its seen-cache budget.
func (n *Node) handleGossip(t *topicState, im inMsg, am appMessage) *Message {
	now := n.s.Now()
	if err := checkGossipTime(am.env.TimeMs, now, n.s.GossipMaxAge, n.s.GossipMaxSkew); err != nil {
		if errors.Is(err, errGossipFuture) {
			n.st.gossipFuture.Add(1)
		} else {
			n.st.gossipStale.Add(1)
		}
		return nil
	}
	key := am.id.key()
	if am.origin == n.ID() || n.seen.Has(key, now) {
		n.st.gossipDuplicates.Add(1)
		return nil
	}
	// Verified before it is recorded: a forged copy arriving first must not
	// make the genuine one a duplicate.
	verified, err := verifyOrigin(am.env, am.id, am.origin, !t.cfg.UnsignedGossip)
	if err != nil {
		n.malformed(im.pc, err.Error())
		return nil
	}
	switch n.seen.Add(key, im.pc.id, n.seenBudget(), now) {
	case seenDuplicate: // the node's own Gossip raced with this copy
		n.st.gossipDuplicates.Add(1)
		return nil
	case seenRefused:
		n.st.gossipSeenRefused.Add(1)
		return nil
	}
	if v := t.cfg.Validator; v != nil {
		switch v(im.pc.id, am.origin, am.payload) {
		case Ignore:
			n.st.gossipIgnored.Add(1)
			return nil
		case Reject:
			// Counted once the sender has paid for it, so a reader of
			// Stats that sees the reject also sees the score it cost.
			n.applyBan(n.set.Record(im.pc.id, peerset.EventInvalidMessage))
			n.st.gossipRejected.Add(1)
			return nil
		}
	}
	if am.env.Hops > 1 {
		am.env.Hops--
		if fwd, err := encodeGossip(am.env); err == nil {
			n.forward(t.cfg.ID, fwd, im.pc.id)
		}
	}
	return &Message{Topic: t.cfg.ID, From: im.pc.id, Meta: im.pc.meta, ReceivedAt: im.at, Data: am.payload,
		Gossip: true, Origin: am.origin, OriginVerified: verified, ID: am.id}
}

// seenBudget is how many seen-cache entries one source may hold: an equal
// share of the cache for each connected peer and the node itself.
func (n *Node) seenBudget() int {
	peers := n.set.Len()
	return max(1, n.s.SeenCacheSize/(peers+1))
}

func encodeGossip(env *pb.GossipEnvelope) ([]byte, error) {
	b := make([]byte, 1, 1+proto.Size(env))
	b[0] = kindGossip
	return proto.MarshalOptions{}.MarshalAppend(b, env)
}

// forward sends a gossip message to every peer but the one it came from.
// It never blocks: a peer whose queue is full misses this copy, counted in
// Stats (GossipForwardDropped, node-wide and per topic) and in that peer's
// PeerInfo per topic; flooding gives it other paths.
func (n *Node) forward(topic uint8, msg []byte, except crypto.ID) {
	for _, pc := range n.connected() {
		if pc.id == except || !pc.mc.CanSend(topic) {
			continue
		}
		if err := pc.mc.TrySend(topic, msg); err != nil {
			n.st.gossipForwardDropped.Add(1)
			n.st.gossipTopicDrops[topic].Add(1)
			pc.gossipDrops.add(topic)
			continue
		}
		n.st.gossipForwarded.Add(1)
	}
}

// connected returns the connections of the set's peers that are current
// (started, not yet closed), ordered by ID.
func (n *Node) connected() []*peerConn {
	peers := n.set.Peers()
	out := make([]*peerConn, 0, len(peers))
	for _, st := range peers {
		if pc := connOf(st.Peer); pc != nil && pc.current.Load() {
			out = append(out, pc)
		}
	}
	return out
}

// connOf returns the node's connection of a set peer, or nil.
func connOf(p *peerset.Peer) *peerConn {
	if p == nil {
		return nil
	}
	pc, _ := p.Conn.(*peerConn)
	return pc
}

// sendIndex is the copy-on-write map behind Node.sendTo, keyed by the
// first 8 bytes of a peer's ID (sendKey); a lookup checks the whole ID.
// Hashing 8 bytes rather than the ID's 20 halves what a lookup costs a
// 256-byte Node.Send (issue 13). Two peers whose IDs share those 8 bytes
// (a truncated SHA-256: 2⁶⁴ keys to make on purpose) cannot both be in
// it: the one that came second is sent to through the Set, and chunked
// dissemination (neighbours) does not push to it.
type sendIndex map[uint64]*peerConn

func sendKey(id crypto.ID) uint64 { return binary.LittleEndian.Uint64(id[:8]) }

// get returns id's connection in x, or nil.
func (x sendIndex) get(id crypto.ID) *peerConn {
	if pc := x[sendKey(id)]; pc != nil && pc.id == id {
		return pc
	}
	return nil
}

// setSendTo makes pc the connection Send uses for id, or (pc nil) drops
// it unless a newer connection already took its place; under st.closed.
func (n *Node) setSendTo(id crypto.ID, pc *peerConn) {
	var old sendIndex
	if p := n.sendTo.Load(); p != nil {
		old = *p
	}
	k := sendKey(id)
	if prev := old[k]; prev != nil && prev.id != id && prev.current.Load() {
		return // another current peer's ID begins with the same 8 bytes
	}
	if cur := old.get(id); pc == nil && cur != nil && cur.current.Load() {
		return // a newer connection of the peer is current
	}
	m := make(sendIndex, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	if pc != nil {
		m[k] = pc
	} else {
		delete(m, k)
	}
	n.sendTo.Store(&m)
}

// peerConn returns the peer's current connection. The copy-on-write map
// answers the common case without a lock; the set is asked when the map
// has no current connection for id.
func (n *Node) peerConn(id crypto.ID) (*peerConn, error) {
	if p := n.sendTo.Load(); p != nil {
		if pc := p.get(id); pc != nil && pc.current.Load() {
			return pc, nil
		}
	}
	var pc *peerConn
	if st, ok := n.set.Get(id); ok {
		if pc = connOf(st.Peer); pc != nil && !pc.current.Load() {
			pc = nil
		}
	}
	if pc == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownPeer, id.String())
	}
	return pc, nil
}

// directPrefix is what precedes a direct message's bytes on the wire: its
// kind (docs/PROTOCOL.md §9). Send hands it to the multiplexer beside the
// application's bytes, so nothing is copied.
var directPrefix = []byte{kindDirect}

// checkDirect reports why data cannot be sent directly on topic, if it cannot.
func (n *Node) checkDirect(topic uint8, data []byte) error {
	t := n.topicAt[topic]
	if t == nil {
		return fmt.Errorf("%w: %d", ErrUnknownTopic, topic)
	}
	if len(data) > t.cfg.MaxMessageSize {
		return fmt.Errorf("%w: %d bytes exceed topic %d's maximum of %d", ErrMessageTooLarge, len(data), topic, t.cfg.MaxMessageSize)
	}
	return nil
}

// direct returns data as one direct message (kind byte and data), for
// sends to several peers that share the one copy.
func (n *Node) direct(topic uint8, data []byte) ([]byte, error) {
	if err := n.checkDirect(topic, data); err != nil {
		return nil, err
	}
	b := make([]byte, 1+len(data))
	b[0] = kindDirect
	copy(b[1:], data)
	return b, nil
}

// Send sends data to one connected peer on topic, waiting while the topic's
// queue to that peer is full, until ctx ends. Messages to one peer on one
// topic arrive in the order sent. It fails at once if the peer did not
// declare the topic. Send does not copy data (as mux.MultiConn.Send): the
// caller must not modify it afterwards.
//
// The errors to match: ErrUnknownPeer (not connected), ErrUnknownTopic,
// ErrMessageTooLarge (over the topic's MaxMessageSize, ours or the
// peer's), ErrClosed (the connection closed during the call; the error
// also carries why) and ctx's error.
func (n *Node) Send(ctx context.Context, peer crypto.ID, topic uint8, data []byte) error {
	pc, err := n.peerConn(peer)
	if err != nil {
		return err
	}
	if err := n.checkDirect(topic, data); err != nil {
		return err
	}
	return sendErr(pc.mc.SendPrefixed(ctx, topic, directPrefix, data))
}

// TrySend is Send that fails at once with ErrQueueFull instead of
// waiting. Like Send, it does not copy data.
func (n *Node) TrySend(peer crypto.ID, topic uint8, data []byte) error {
	pc, err := n.peerConn(peer)
	if err != nil {
		return err
	}
	if err := n.checkDirect(topic, data); err != nil {
		return err
	}
	return sendErr(pc.mc.TrySendPrefixed(topic, directPrefix, data))
}

// Broadcast sends data on topic to every connected peer that declared the
// topic, concurrently, and returns each peer's result (nil for success).
func (n *Node) Broadcast(ctx context.Context, topic uint8, data []byte) (map[crypto.ID]error, error) {
	msg, err := n.direct(topic, data)
	if err != nil {
		return nil, err
	}
	return n.sendAll(ctx, topic, msg, crypto.ID{}), nil
}

func (n *Node) sendAll(ctx context.Context, topic uint8, msg []byte, except crypto.ID) map[crypto.ID]error {
	peers := n.connected()
	res := make(map[crypto.ID]error, len(peers))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, pc := range peers {
		if pc.id == except || !pc.mc.CanSend(topic) {
			continue
		}
		// Try without a goroutine first: the common case is a free queue.
		err := pc.mc.TrySend(topic, msg)
		if !errors.Is(err, mux.ErrQueueFull) {
			mu.Lock()
			res[pc.id] = sendErr(err)
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := pc.mc.Send(ctx, topic, msg)
			mu.Lock()
			res[pc.id] = sendErr(err)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return res
}

// SendRandom sends data on topic to one connected peer chosen at random
// among those that declared the topic, and returns its ID.
func (n *Node) SendRandom(ctx context.Context, topic uint8, data []byte) (crypto.ID, error) {
	msg, err := n.direct(topic, data)
	if err != nil {
		return crypto.ID{}, err
	}
	var cands []*peerConn
	for _, pc := range n.connected() {
		if pc.mc.CanSend(topic) {
			cands = append(cands, pc)
		}
	}
	if len(cands) == 0 {
		return crypto.ID{}, fmt.Errorf("%w: no connected peer serves topic %d", ErrUnknownPeer, topic)
	}
	pc := cands[rand.IntN(len(cands))]
	return pc.id, sendErr(pc.mc.Send(ctx, topic, msg))
}

// sendErr is what the send calls return for err from a MultiConn: the
// error of a connection that closed under the call (mux.ErrClosed, with
// its cause) also matches ErrClosed, so an application matches p2p's
// sentinels alone. Other errors pass unchanged.
func sendErr(err error) error {
	if err == nil || !errors.Is(err, mux.ErrClosed) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrClosed, err)
}

// Gossip floods data on topic through the network: every node delivers it
// to its inbox once and forwards it, up to the hop limit. It returns the
// message ID and each direct peer's send result. The node itself does not
// deliver its own gossip to its inbox.
func (n *Node) Gossip(ctx context.Context, topic uint8, data []byte) (MessageID, map[crypto.ID]error, error) {
	t := n.topics[topic]
	if t == nil {
		return MessageID{}, nil, fmt.Errorf("%w: %d", ErrUnknownTopic, topic)
	}
	if len(data) > t.cfg.MaxMessageSize {
		return MessageID{}, nil, fmt.Errorf("%w: %d bytes exceed topic %d's maximum of %d", ErrMessageTooLarge, len(data), topic, t.cfg.MaxMessageSize)
	}
	if t.chunkedFor(data) {
		return t.ck.originate(ctx, data)
	}
	self := n.ID()
	var nb [8]byte
	binary.LittleEndian.PutUint64(nb[:], rand.Uint64())
	now := n.s.Now()
	env := &pb.GossipEnvelope{Hops: uint32(n.s.HopLimit), Origin: self[:], Nonce: binary.LittleEndian.Uint64(nb[:]),
		Payload: data, TimeMs: uint64(max(0, now.UnixMilli()))}
	id := gossipID(topic, self, env.Nonce, env.TimeMs, data)
	if !t.cfg.UnsignedGossip {
		env.OriginKey = n.id.PublicKey()
		env.Signature = n.id.Sign(gossipSigningInput(id))
	}
	// Echoes of our own messages are dropped by origin; the entry is a
	// second guard, so a refusal (over our own budget) changes nothing.
	n.seen.Add(id.key(), self, n.seenBudget(), now)
	msg, err := encodeGossip(env)
	if err != nil {
		return id, nil, err
	}
	n.st.gossipOriginated.Add(1)
	return id, n.sendAll(ctx, topic, msg, crypto.ID{}), nil
}
