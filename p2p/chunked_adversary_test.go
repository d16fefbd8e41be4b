package p2p

import (
	"context"
	"crypto/sha256"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/peerset"
)

// patterned returns n bytes of test payload, byte i being i·k mod 256.
func patterned(n, k int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * k)
	}
	return b
}

// signedHeader builds a header of data cut into chunk-byte chunks, signed
// by signer but naming origin (the same for an honest header).
func signedHeader(t testing.TB, signer *crypto.Identity, origin crypto.ID, data []byte, chunk int) (*chunkHeader, MessageID) {
	t.Helper()
	h := &chunkHeader{origin: origin, nonce: 7, timeMs: uint64(time.Now().UnixMilli()), total: uint32(len(data)), chunkSize: uint32(chunk)}
	for i := 0; i < len(data); i += chunk {
		h.hashes = append(h.hashes, sha256.Sum256(data[i:min(len(data), i+chunk)]))
	}
	id := chunkedID(topicChunked, h)
	h.key = signer.PublicKey()
	h.sig = signer.Sign(chunkedSigningInput(id))
	return h, id
}

// chunkedRaw starts a node on the chunked topics and connects a raw peer.
func chunkedRaw(t *testing.T, i int) (*Node, *rawPeer) {
	t.Helper()
	n := startNode(t, chunkedConfig(t, i))
	p := joinRaw(t, n, i+1)
	return n, p
}

func rawSend(t *testing.T, p *rawPeer, msg []byte) {
	t.Helper()
	if err := p.mc.Send(context.Background(), topicChunked, msg); err != nil {
		t.Fatal(err)
	}
}

// rawChunkedRR returns the next request/response message the node sent
// p on the chunked topic.
func rawChunkedRR(t *testing.T, p *rawPeer) rrMsg {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-p.inbox:
			if m.Topic != topicChunked || len(m.Data) == 0 || !isRRKind(m.Data[0]) {
				continue
			}
			w, err := parseRR(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			return w
		case <-timeout:
			t.Fatal("no request/response message from the node")
		}
	}
}

func chunkMsg(id MessageID, i int, b []byte) []byte { return append(chunkPrefix(id, i, len(b)), b...) }

// TestChunkedAdversary: what a peer can send wrong, and what it costs it.
func TestChunkedAdversary(t *testing.T) {
	data := patterned(3*DefaultChunkSize+100, 7)
	t.Run("forged header signature", func(t *testing.T) {
		n, p := chunkedRaw(t, 1500)
		other := testIdentity(t, 1599)
		h, _ := signedHeader(t, other, p.id.ID(), data, DefaultChunkSize) // signed by another key
		rawSend(t, p, encodeChunkHeader(h, 3))
		if ge := goAwayOf(t, p.mc); ge.Code != mux.GoAwayProtocolViolation {
			t.Fatalf("goaway %v, want protocol violation", ge)
		}
		if st := n.ChunkedStats(); st.Headers != 0 {
			t.Fatalf("forged header accepted: %+v", st)
		}
	})
	// The right key for the origin, but a signature that does not verify:
	// only ed25519.Verify can refuse it.
	t.Run("bad signature under the origin's own key", func(t *testing.T) {
		n, p := chunkedRaw(t, 1505)
		h, _ := signedHeader(t, p.id, p.id.ID(), data, DefaultChunkSize)
		h.sig = append([]byte(nil), h.sig...)
		h.sig[0] ^= 1
		rawSend(t, p, encodeChunkHeader(h, 3))
		if ge := goAwayOf(t, p.mc); ge.Code != mux.GoAwayProtocolViolation {
			t.Fatalf("goaway %v, want protocol violation", ge)
		}
		if st := n.ChunkedStats(); st.Headers != 0 {
			t.Fatalf("header with a bad signature accepted: %+v", st)
		}
	})
	t.Run("chunk not matching the hash list", func(t *testing.T) {
		n, p := chunkedRaw(t, 1510)
		h, id := signedHeader(t, p.id, p.id.ID(), data, DefaultChunkSize)
		rawSend(t, p, encodeChunkHeader(h, 3))
		bad := append([]byte(nil), data[:DefaultChunkSize]...)
		bad[5] ^= 1
		rawSend(t, p, chunkMsg(id, 0, bad))
		if ge := goAwayOf(t, p.mc); ge.Code != mux.GoAwayProtocolViolation {
			t.Fatalf("goaway %v, want protocol violation", ge)
		}
		if st := n.ChunkedStats(); st.BadChunks != 1 || st.ChunksReceived != 0 || st.Headers != 1 {
			t.Fatalf("stats %+v, want 1 bad chunk, none stored, 1 header", st)
		}
		if s, _ := n.Score(p.id.ID()); s >= 0 {
			t.Fatalf("score %v after a bad chunk, want below 0", s)
		}
	})
	t.Run("chunks for an unknown message", func(t *testing.T) {
		n, p := chunkedRaw(t, 1520)
		var id MessageID
		id[0] = 9
		for i := range 10 {
			rawSend(t, p, chunkMsg(id, i, data[:100]))
		}
		rawSend(t, p, encodeHave(id, []byte{0xff}))
		rawSend(t, p, encodeDontWant(id))
		testutil.Eventually(t, 10*time.Second, "unknown chunks counted", func() bool { return n.ChunkedStats().ChunksUnknown == 12 })
		if !connectedTo(n, p.id.ID()) {
			t.Fatal("peer disconnected for chunks of a message the node does not track (it may have evicted it)")
		}
		n.topics[topicChunked].ck.mu.Lock()
		held := len(n.topics[topicChunked].ck.msgs)
		n.topics[topicChunked].ck.mu.Unlock()
		if held != 0 {
			t.Fatalf("node tracks %d messages after unknown chunks", held)
		}
	})
	t.Run("flood of headers with new IDs", func(t *testing.T) {
		n, p := chunkedRaw(t, 1530)
		const k = 3 * maxChunkedPerPeer
		for i := range k {
			h, _ := signedHeader(t, p.id, p.id.ID(), data, DefaultChunkSize)
			h.nonce = uint64(i)
			id := chunkedID(topicChunked, h)
			h.sig = p.id.Sign(chunkedSigningInput(id))
			rawSend(t, p, encodeChunkHeader(h, 1))
		}
		testutil.Eventually(t, 10*time.Second, "every header handled", func() bool {
			st := n.ChunkedStats()
			return st.Headers+st.HeadersRefused == k
		})
		e := n.topics[topicChunked].ck
		e.mu.Lock()
		held := len(e.msgs)
		e.mu.Unlock()
		if st := n.ChunkedStats(); held != maxChunkedPerPeer || st.Headers != maxChunkedPerPeer {
			t.Fatalf("node tracks %d messages (%d accepted), want the per-peer cap %d", held, st.Headers, maxChunkedPerPeer)
		}
	})
	t.Run("headers from many peers: the total cap", func(t *testing.T) {
		n := startNode(t, chunkedConfig(t, 1560))
		const peers = maxChunkedMessages/maxChunkedPerPeer + 1
		sent := 0
		for j := range peers {
			p := joinRaw(t, n, 1561+j)
			for i := range maxChunkedPerPeer {
				h, _ := signedHeader(t, p.id, p.id.ID(), data, DefaultChunkSize)
				h.nonce = uint64(i)
				id := chunkedID(topicChunked, h)
				h.sig = p.id.Sign(chunkedSigningInput(id))
				rawSend(t, p, encodeChunkHeader(h, 1))
				sent++
			}
		}
		testutil.Eventually(t, 10*time.Second, "every header handled", func() bool {
			st := n.ChunkedStats()
			return st.Headers+st.HeadersRefused == uint64(sent)
		})
		e := n.topics[topicChunked].ck
		e.mu.Lock()
		held := len(e.msgs)
		e.mu.Unlock()
		if st := n.ChunkedStats(); held != maxChunkedMessages || st.HeadersRefused != maxChunkedPerPeer {
			t.Fatalf("node tracks %d messages, refused %d; want the cap %d and %d refused", held, st.HeadersRefused, maxChunkedMessages, maxChunkedPerPeer)
		}
	})
	t.Run("pull of a chunk never announced", func(t *testing.T) {
		n, p := chunkedRaw(t, 1540)
		var id MessageID
		id[0] = 1
		rawSend(t, p, encodeRequest(42, 5*time.Second, encodePull(id, 0)))
		w := rawChunkedRR(t, p)
		if w.kind != kindError || w.code != RequestRefused || w.id != 42 {
			t.Fatalf("answer %+v, want a refused error for request 42", w)
		}
		rawSend(t, p, encodeRequest(43, 5*time.Second, []byte("not a pull")))
		if w := rawChunkedRR(t, p); w.kind != kindError || w.id != 43 {
			t.Fatalf("answer %+v, want an error for request 43", w)
		}
		if st := n.ChunkedStats(); st.PullsRefused != 2 || st.PullsServed != 0 {
			t.Fatalf("stats %+v, want 2 refused pulls", st)
		}
	})
	t.Run("announcer that never serves", func(t *testing.T) {
		n, p := chunkedRaw(t, 1550)
		h, id := signedHeader(t, p.id, p.id.ID(), data, DefaultChunkSize)
		rawSend(t, p, encodeChunkHeader(h, 1))
		rawSend(t, p, encodeHave(id, []byte{0x0f})) // all 4 chunks
		// Answer every pull with an error, as a peer that lied.
		deadline := time.Now().Add(20 * time.Second)
		for n.ChunkedStats().UnservedPenalties == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no penalty within 20 s: %+v", n.ChunkedStats())
			}
			select {
			case m := <-p.inbox:
				if w, err := parseRR(m.Data); err == nil && w.kind == kindRequest {
					rawSend(t, p, encodeError(w.id, RequestRefused, "no"))
				}
			case <-time.After(100 * time.Millisecond):
			}
		}
		if s, _ := n.Score(p.id.ID()); s >= 0 {
			t.Fatalf("score %v after not serving, want below 0", s)
		}
		if st := n.ChunkedStats(); st.UnservedPenalties != 1 || st.Completed != 0 {
			t.Fatalf("stats %+v, want one penalty, nothing completed", st)
		}
		// A penalised announcer is asked nothing more for the message:
		// once the pulls in flight have failed, the count stays.
		testutil.Eventually(t, 10*time.Second, "pulls in flight ended", func() bool {
			st := n.ChunkedStats()
			return st.PullsSent == st.PullsFailed
		})
		before := n.ChunkedStats().PullsSent
		waitTicks(t, n, 10)
		if after := n.ChunkedStats().PullsSent; after != before {
			t.Fatalf("%d more pulls to a penalised announcer", after-before)
		}
	})
}

// silentAnnouncer starts a node (seed) with two raw peers, x (seed+1)
// and y (seed+2); x sends the header of an nc-chunk message of patterned
// data (k) and announces all of it. x is the silent announcer of the
// tests below; y is for them to use.
func silentAnnouncer(t *testing.T, seed, nc, k int) (n *Node, x, y *rawPeer, data []byte, id MessageID) {
	t.Helper()
	data = patterned(nc*DefaultChunkSize, k)
	n = startNode(t, chunkedConfig(t, seed))
	x, y = joinRaw(t, n, seed+1), joinRaw(t, n, seed+2)
	h, id := signedHeader(t, x.id, x.id.ID(), data, DefaultChunkSize)
	rawSend(t, x, encodeChunkHeader(h, 1))
	testutil.Eventually(t, 10*time.Second, "the header tracked", func() bool { return n.ChunkedStats().Headers == 1 })
	rawSend(t, x, encodeHave(id, []byte{0xff}))
	return n, x, y, data, id
}

// TestChunkedSilentAnnouncer: an announcer that leaves the pulls of
// chunks it announced unanswered, while another announcer serves them, is
// penalised once silentAfter of them came elsewhere, and asked nothing
// more of the message; the message still completes.
func TestChunkedSilentAnnouncer(t *testing.T) {
	const nc = 8
	start := time.Now()
	n, x, y, data, id := silentAnnouncer(t, 1580, nc, 11) // y serves
	rawSend(t, y, encodeHave(id, []byte{0xff}))
	deadline := time.Now().Add(30 * time.Second)
	for st := n.ChunkedStats(); st.Completed == 0 || st.SilentPenalties == 0; st = n.ChunkedStats() {
		if time.Now().After(deadline) {
			t.Fatalf("within 30 s: %+v", st)
		}
		select {
		case m := <-y.inbox:
			if w, err := parseRR(m.Data); err == nil && w.kind == kindRequest {
				pid, i, err := parsePull(w.body)
				if err != nil || pid != id {
					t.Fatalf("pull %v of %s, want one of %s", err, pid, id)
				}
				rawSend(t, y, encodeResponse(w.id, data[i*DefaultChunkSize:(i+1)*DefaultChunkSize]))
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
	st := n.ChunkedStats()
	if st.SilentPenalties != 1 || st.UnservedPenalties != 1 || st.ChunksPulled != nc {
		t.Fatalf("stats %+v, want one silent penalty and all %d chunks pulled (from Y)", st, nc)
	}
	if s, _ := n.Score(x.id.ID()); s > penaltyAfterDecay(peerset.DeltaInvalidMessage, start) {
		t.Fatalf("silent announcer's score %v, want at most %v less decay", s, peerset.DeltaInvalidMessage)
	}
	if s, _ := n.Score(y.id.ID()); s < 0 {
		t.Fatalf("serving announcer's score %v, want at least 0", s)
	}
	e := n.topics[topicChunked].ck
	e.mu.Lock()
	punished := e.msgs[id].peers[x.id.ID()].punished
	e.mu.Unlock()
	if !punished {
		t.Fatal("the silent announcer may still be asked for the message")
	}
}

// TestChunkedSilentWhilePushed: the chunks an announcer left unanswered
// came from another, by push, while its pulls waited; when the pulls time
// out it is judged silent all the same.
func TestChunkedSilentWhilePushed(t *testing.T) {
	const nc = 8
	start := time.Now()
	n, x, y, data, id := silentAnnouncer(t, 1590, nc, 13) // y pushes
	// X is the only announcer: the node pulls from it, and X says nothing.
	for range silentAfter {
		w := rawChunkedRR(t, x)
		if w.kind != kindRequest {
			t.Fatalf("message kind %d to the announcer, want a pull", w.kind)
		}
	}
	for i := range nc {
		rawSend(t, y, chunkMsg(id, i, data[i*DefaultChunkSize:(i+1)*DefaultChunkSize]))
	}
	testutil.Eventually(t, 10*time.Second, "the message complete", func() bool { return n.ChunkedStats().Completed == 1 })
	testutil.Eventually(t, 10*time.Second, "X judged silent", func() bool { return n.ChunkedStats().SilentPenalties == 1 })
	st := n.ChunkedStats()
	if st.UnservedPenalties != 1 || st.ChunksReceived != nc || st.ChunksPulled != 0 {
		t.Fatalf("stats %+v, want one silent penalty and all %d chunks pushed (by Y)", st, nc)
	}
	if s, _ := n.Score(x.id.ID()); s > penaltyAfterDecay(peerset.DeltaInvalidMessage, start) {
		t.Fatalf("silent announcer's score %v, want at most %v less decay", s, peerset.DeltaInvalidMessage)
	}
}

// TestChunkedConfig: operator errors name the field.
func TestChunkedConfig(t *testing.T) {
	tests := []struct {
		name  string
		tc    TopicConfig
		field string
	}{
		{"unsigned", TopicConfig{UnsignedGossip: true, Dissemination: Chunked}, "Topics[0].UnsignedGossip"},
		{"chunk too small", TopicConfig{Dissemination: Chunked, Chunked: &ChunkedConfig{ChunkSize: 10}}, "Topics[0].Chunked.ChunkSize"},
		{"settings on flood", TopicConfig{Chunked: &ChunkedConfig{}}, "Topics[0].Chunked"},
		{"unknown mode", TopicConfig{Dissemination: 7}, "Topics[0].Dissemination"},
		{"responses too small", TopicConfig{Dissemination: Chunked, Requests: &RequestConfig{MaxResponseSize: 1000}}, "Topics[0].Requests.MaxResponseSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, 1)
			tt.tc.TopicConfig = mux.TopicConfig{ID: 2, Name: "blocks", MaxMessageSize: 1 << 20}
			cfg.Topics = []TopicConfig{tt.tc}
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), "Config."+tt.field+":") {
				t.Fatalf("New: %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

// waitTicks waits until n's chunked engine has run k more ticks.
func waitTicks(t *testing.T, n *Node, k uint64) {
	t.Helper()
	e := n.topics[topicChunked].ck
	start := e.ticks.Load()
	testutil.Eventually(t, 10*time.Second, "chunk ticks", func() bool { return e.ticks.Load() >= start+k })
}

// TestChunkedHeaderValidator: a header the ChunkedConfig.HeaderValidator
// does not accept is neither tracked nor forwarded, so its message is
// delivered nowhere; Reject costs the sender reputation, Ignore does not.
// A header it accepts, sent after, goes through: on the link to the child
// it would come after the refused one.
func TestChunkedHeaderValidator(t *testing.T) {
	const limit = 200_000 // the validator refuses messages over this
	big := make([]byte, 4*DefaultChunkSize)
	small := make([]byte, 2*DefaultChunkSize)
	for i := range big {
		big[i] = byte(i * 5)
	}
	for i := range small {
		small[i] = byte(i * 9)
	}
	for k, tt := range []struct {
		name    string
		verdict ValidationResult
	}{{"reject", Reject}, {"ignore", Ignore}} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := chunkedConfig(t, 1590+3*k)
			var calls atomic.Int32
			cfg.Topics[1].Chunked = &ChunkedConfig{HeaderValidator: func(_, _ crypto.ID, total int) ValidationResult {
				calls.Add(1)
				if total > limit {
					return tt.verdict
				}
				return Accept
			}}
			n := startNode(t, cfg)
			up := joinRaw(t, n, 1591+3*k)
			child := joinRaw(t, n, 1592+3*k)
			in := n.Inbox(topicChunked)
			hb, bigID := signedHeader(t, up.id, up.id.ID(), big, DefaultChunkSize)
			rawSend(t, up, encodeChunkHeader(hb, 3))
			rawSend(t, up, encodeChunkHeader(hb, 3)) // a copy: a duplicate, not judged again
			for i := range 4 {
				rawSend(t, up, chunkMsg(bigID, i, big[i*DefaultChunkSize:(i+1)*DefaultChunkSize]))
			}
			hs, smallID := signedHeader(t, up.id, up.id.ID(), small, DefaultChunkSize)
			rawSend(t, up, encodeChunkHeader(hs, 3))
			timeout := time.After(10 * time.Second)
			for got := false; !got; {
				select {
				case m := <-child.inbox:
					if m.Topic != topicChunked || len(m.Data) == 0 || m.Data[0] != kindChunkHeader {
						continue
					}
					fh, _, err := parseChunkHeader(m.Data, 4<<20, 10)
					if err != nil {
						t.Fatal(err)
					}
					switch chunkedID(topicChunked, fh) {
					case bigID:
						t.Fatal("the refused header was forwarded")
					case smallID:
						got = true
					}
				case <-timeout:
					t.Fatal("the accepted header was not forwarded")
				}
			}
			for i := range 2 {
				rawSend(t, up, chunkMsg(smallID, i, small[i*DefaultChunkSize:(i+1)*DefaultChunkSize]))
			}
			select {
			case m := <-in:
				if m.ID != smallID {
					t.Fatalf("delivered %s, want only the accepted %s", m.ID, smallID)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the accepted message was not delivered")
			}
			st := n.ChunkedStats()
			if st.HeadersRejected != 1 || st.Headers != 1 || st.HeaderDuplicates != 1 || st.ChunksUnknown != 4 || calls.Load() != 2 {
				t.Fatalf("stats %+v, validator called %d times; want 1 header refused (its copy a duplicate, its 4 chunks unknown), 1 accepted, 2 calls",
					st, calls.Load())
			}
			s, _ := n.Score(up.id.ID())
			if tt.verdict == Reject && s >= 0 || tt.verdict == Ignore && s < 0 {
				t.Fatalf("sender's score %v after %s", s, tt.name)
			}
		})
	}
}
