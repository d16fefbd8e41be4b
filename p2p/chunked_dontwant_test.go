package p2p

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// rawChunkedKind returns the next message of kind k about id the node
// sent p on the chunked topic, or fails after within.
func rawChunkedKind(t *testing.T, p *rawPeer, k byte, id MessageID, within time.Duration) {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case m := <-p.inbox:
			if m.Topic != topicChunked || len(m.Data) == 0 || m.Data[0] != k {
				continue
			}
			var got MessageID
			var err error
			switch k {
			case kindWant:
				got, err = parseWant(m.Data)
			case kindDontWant:
				got, err = parseDontWant(m.Data)
			}
			if err == nil && got == id {
				return
			}
		case <-timeout:
			t.Fatalf("no message of kind 0x%02x about %s from the node within %v", k, id, within)
		}
	}
}

// TestChunkedDontWantToFullParent: a node asks the neighbour its header
// came from to push (want). When another neighbour's push arrives first,
// the node tells the first one dont-want, even when that one announced
// it holds the whole message: a complete neighbour still pushes to a
// node that asked it, and a want that reached it late (a slow or lossy
// link) would otherwise bring every chunk a second time. (The lab's
// TestChunkedLossyLinks found it: on hosts with 5% loss and 50 ms delay a
// third of the chunks arrived twice this way.)
func TestChunkedDontWantToFullParent(t *testing.T) {
	n := startNode(t, chunkedConfig(t, 1700))
	x := joinRaw(t, n, 1701)
	y := joinRaw(t, n, 1702)
	data := patterned(3*DefaultChunkSize, 13)
	h, id := signedHeader(t, x.id, x.id.ID(), data, DefaultChunkSize)
	// X, the origin, is the header's sender: the node asks it to push.
	rawSend(t, x, encodeChunkHeader(h, 3))
	rawChunkedKind(t, x, kindWant, id, 10*time.Second)
	// X announces it holds everything (as a complete node does), but has
	// not pushed yet: its answer to the want is still on the way.
	rawSend(t, x, encodeHave(id, []byte{0x07}))
	e := n.topics[topicChunked].ck
	testutil.Eventually(t, 10*time.Second, "X known to hold the message", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		m := e.msgs[id]
		return m != nil && m.peers[x.id.ID()] != nil && m.peers[x.id.ID()].full
	})
	// Y pushes first: it becomes the node's pusher, X must stop.
	rawSend(t, y, encodeChunkHeader(h, 2))
	rawSend(t, y, chunkMsg(id, 0, data[:DefaultChunkSize]))
	testutil.Eventually(t, 10*time.Second, "Y's chunk stored", func() bool { return n.ChunkedStats().ChunksReceived == 1 })
	rawChunkedKind(t, x, kindDontWant, id, 5*time.Second)
}

// TestChunkedPushLargerThanQueue: a message several times the size of the
// topic's send queue is still pushed whole to an eager neighbour, at the
// pace the neighbour reads it: a full queue defers the pushes until the
// tick finds room again instead of leaving the neighbour to pull every
// chunk. (With 16 MiB messages the push tree carried 1 chunk in 8 before.)
// The neighbour is a raw peer that never says dont-want, so every chunk
// must come by push.
func TestChunkedPushLargerThanQueue(t *testing.T) {
	cfg := chunkedConfig(t, 1710)
	for k := range cfg.Topics {
		if cfg.Topics[k].ID == topicChunked {
			cfg.Topics[k].SendQueue = 4 // 4 chunks at a time
		}
	}
	n := startNode(t, cfg)
	p := joinRaw(t, n, 1711)
	const chunks = 32
	data := patterned(chunks*DefaultChunkSize, 31)
	id, _, err := n.Gossip(context.Background(), topicChunked, data)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]bool{}
	timeout := time.After(20 * time.Second)
	for len(got) < chunks {
		select {
		case m := <-p.inbox:
			if m.Topic != topicChunked || len(m.Data) == 0 || m.Data[0] != kindChunk {
				continue
			}
			cid, i, _, err := parseChunk(m.Data)
			if err != nil || cid != id {
				t.Fatalf("chunk %d of %s: %v", i, cid, err)
			}
			if got[i] {
				t.Fatalf("chunk %d pushed twice", i)
			}
			got[i] = true
		case <-timeout:
			t.Fatalf("%d of %d chunks pushed in 20 s (%d pushes deferred on a full queue)", len(got), chunks, n.ChunkedStats().PushesSkipped)
		}
	}
	// The counter moves once TrySend returned, which may be after the
	// peer read the chunk: wait for it rather than read it once.
	testutil.Eventually(t, 10*time.Second, "every push counted", func() bool { return n.ChunkedStats().ChunksPushed >= chunks })
	if s := n.ChunkedStats(); s.PushesSkipped == 0 || s.ChunksPushed != chunks {
		t.Fatalf("%d pushes deferred, %d pushed: want some deferred (the queue holds 4 chunks) and all %d pushed", s.PushesSkipped, s.ChunksPushed, chunks)
	}
}

// TestChunkedPipelined: a relay forwards each chunk to its eager children
// as soon as it has verified it, not once it holds the whole message. The
// upstream peer sends the header and then chunk 0 of 4 only; the child,
// eager at the relay (its want taken), must receive chunk 0 before the
// upstream sends anything more.
func TestChunkedPipelined(t *testing.T) {
	n := startNode(t, chunkedConfig(t, 1720))
	up := joinRaw(t, n, 1721)
	child := joinRaw(t, n, 1722)
	data := patterned(4*DefaultChunkSize, 17)
	h, id := signedHeader(t, up.id, up.id.ID(), data, DefaultChunkSize)
	rawSend(t, up, encodeChunkHeader(h, 3))
	// The relay forwards the header to the child, which asks it to push.
	timeout := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case m := <-child.inbox:
			if m.Topic == topicChunked && len(m.Data) > 0 && m.Data[0] == kindChunkHeader {
				fh, _, err := parseChunkHeader(m.Data, 4<<20, 10)
				got = err == nil && chunkedID(topicChunked, fh) == id
			}
		case <-timeout:
			t.Fatal("the relay did not forward the header")
		}
	}
	rawSend(t, child, encodeWant(id))
	e := n.topics[topicChunked].ck
	testutil.Eventually(t, 10*time.Second, "the child eager at the relay", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		m := e.msgs[id]
		return m != nil && m.peers[child.id.ID()] != nil && m.peers[child.id.ID()].eager
	})
	rawSend(t, up, chunkMsg(id, 0, data[:DefaultChunkSize]))
	timeout = time.After(10 * time.Second)
	for {
		select {
		case m := <-child.inbox:
			if m.Topic != topicChunked || len(m.Data) == 0 || m.Data[0] != kindChunk {
				continue
			}
			cid, i, b, err := parseChunk(m.Data)
			if err != nil || cid != id || i != 0 || !bytes.Equal(b, data[:DefaultChunkSize]) {
				t.Fatalf("child got chunk %d of %s (%v), want chunk 0 of %s", i, cid, err, id)
			}
			return
		case <-timeout:
			t.Fatalf("the child did not get chunk 0 while the relay held 1 of 4 chunks (stats %+v): store-and-forward", n.ChunkedStats())
		}
	}
}

// rawChunkOrder returns the indexes of the first k chunks of id the node
// pushed to p, in the order they came.
func rawChunkOrder(t *testing.T, p *rawPeer, id MessageID, k int) []int {
	t.Helper()
	var order []int
	timeout := time.After(10 * time.Second)
	for len(order) < k {
		select {
		case m := <-p.inbox:
			if m.Topic != topicChunked || len(m.Data) == 0 || m.Data[0] != kindChunk {
				continue
			}
			cid, i, _, err := parseChunk(m.Data)
			if err != nil || cid != id {
				t.Fatalf("chunk %d of %s (%v), want one of %s", i, cid, err, id)
			}
			order = append(order, i)
		case <-timeout:
			t.Fatalf("%d of %d chunks pushed within 10 s: %v", len(order), k, order)
		}
	}
	return order
}

// rotated returns 0…n-1 starting at start and wrapping.
func rotated(n, start int) []int {
	out := make([]int, n)
	for s := range out {
		out[s] = (start + s) % n
	}
	return out
}

// TestChunkedEagerRotation: different eager neighbours get different
// chunks first. Eager neighbour k of e starts at chunk k·N/e and wraps: at
// the origin over its eager set, and at a relay, which holds the message
// when the wants come, over EagerPeers in the order the wants came.
func TestChunkedEagerRotation(t *testing.T) {
	const nc = 8
	data := patterned(nc*DefaultChunkSize, 29)
	t.Run("origin", func(t *testing.T) {
		n := startNode(t, chunkedConfig(t, 1730))
		var ps []*rawPeer
		for j := range 3 { // under EagerPeers: all three are eager
			p := joinRaw(t, n, 1731+j)
			ps = append(ps, p)
		}
		id, _, err := n.Gossip(context.Background(), topicChunked, data)
		if err != nil {
			t.Fatal(err)
		}
		firsts := map[int]bool{}
		for j, p := range ps {
			order := rawChunkOrder(t, p, id, nc)
			if !slices.Equal(order, rotated(nc, order[0])) {
				t.Fatalf("neighbour %d got chunks %v, want them in order from its first, wrapping", j, order)
			}
			firsts[order[0]] = true
		}
		// k·8/3 for k = 0, 1, 2, in the order the origin drew them.
		if want := map[int]bool{0: true, 2: true, 5: true}; !maps.Equal(firsts, want) {
			t.Fatalf("first chunks %v, want 0, 2 and 5 (one per eager neighbour)", firsts)
		}
	})
	t.Run("relay answering wants", func(t *testing.T) {
		n := startNode(t, chunkedConfig(t, 1740))
		var ps []*rawPeer
		for j := range 3 {
			p := joinRaw(t, n, 1741+j)
			ps = append(ps, p)
		}
		up, children := ps[0], ps[1:]
		h, id := signedHeader(t, up.id, up.id.ID(), data, DefaultChunkSize)
		rawSend(t, up, encodeChunkHeader(h, 3))
		for i := range nc {
			rawSend(t, up, chunkMsg(id, i, data[i*DefaultChunkSize:(i+1)*DefaultChunkSize]))
		}
		testutil.Eventually(t, 10*time.Second, "the relay holds the message", func() bool { return n.ChunkedStats().Completed == 1 })
		e := n.topics[topicChunked].ck
		for k, c := range children {
			rawSend(t, c, encodeWant(id))
			testutil.Eventually(t, 10*time.Second, "the child eager", func() bool {
				e.mu.Lock()
				defer e.mu.Unlock()
				p := e.msgs[id].peers[c.id.ID()]
				return p != nil && p.eager
			})
			if order, want := rawChunkOrder(t, c, id, nc), rotated(nc, k*nc/DefaultEagerPeers); !slices.Equal(order, want) {
				t.Fatalf("child %d got chunks %v, want %v", k, order, want)
			}
		}
	})
}
