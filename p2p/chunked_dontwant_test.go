package p2p

import (
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
	x, err := dialRaw(t, n, testIdentity(t, 1701), "")
	if err != nil {
		t.Fatal(err)
	}
	waitRaw(t, n, x)
	y, err := dialRaw(t, n, testIdentity(t, 1702), "")
	if err != nil {
		t.Fatal(err)
	}
	waitRaw(t, n, y)
	data := make([]byte, 3*DefaultChunkSize)
	for i := range data {
		data[i] = byte(i * 13)
	}
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
