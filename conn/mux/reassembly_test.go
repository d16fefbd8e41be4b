package mux

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/proto/pb"
)

// bench64Topics: one bulk topic for 64 MiB messages (a block topic's
// largest), with room for two in flight.
func bench64Topics() []TopicConfig {
	return []TopicConfig{{ID: 2, Name: "blocks", MaxMessageSize: 64 << 20, SendQueue: 4}}
}

// BenchmarkMultiSend64MiB sends 64 MiB messages one way: the largest
// messages, where the receiver's reassembly buffer matters most.
//
// live-MiB is the largest live heap (runtime/metrics /gc/heap/live:bytes,
// as of the latest collection) seen at any delivery, beside the topic's
// receive window: the target is at most 2 × the window (issue 13). It
// holds the sender's message too, both ends being in this process.
func BenchmarkMultiSend64MiB(b *testing.B) {
	sink := newCountingSink(b.N)
	ca := &Config{Topics: bench64Topics(), OnMessage: func(m *Message) { m.Done() }}
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var maxLive atomic.Uint64
	cb := &Config{Topics: bench64Topics(), OnMessage: func(m *Message) {
		metrics.Read(live)
		if v := live[0].Value.Uint64(); v > maxLive.Load() {
			maxLive.Store(v)
		}
		sink.onMessage(m)
	}}
	a, bc := mcPair(b, ca, cb)
	defer func() {
		b.ReportMetric(float64(maxLive.Load())/(1<<20), "live-MiB")
		b.ReportMetric(float64(bc.topics[0].cfg.RecvWindow)/(1<<20), "window-MiB")
	}()
	msg := make([]byte, 64<<20)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := a.Send(context.Background(), 2, msg); err != nil {
			b.Fatal(err)
		}
	}
	<-sink.reached
	b.StopTimer()
}

// heapInUse returns the bytes in in-use heap spans after a full collection
// (two, so pooled buffers from before are gone too).
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// readUntil reads packets the server sends on e and returns once stop
// reports true for one of them; it fails the test if the stream ends first.
func readUntil(t *testing.T, e *conn.EncryptedConn, stop func(h packetHeader, body []byte) bool) {
	t.Helper()
	e.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer e.SetReadDeadline(time.Time{})
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		for len(buf) >= packetHeaderLen && len(buf) >= headerLen(buf[0], buf[1]) {
			h, err := parsePacketHeader(buf)
			if err != nil {
				t.Fatalf("server sent a bad packet: %v", err)
			}
			hl := headerLen(h.topic, h.kind)
			if len(buf) < hl+h.length {
				break
			}
			if stop(h, buf[hl:hl+h.length]) {
				return
			}
			buf = buf[hl+h.length:]
		}
		n, err := e.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil {
			t.Fatalf("reading from the server: %v", err)
		}
	}
}

// pingAndWait sends a ping and waits for its pong: the server's reader has
// handled everything written before it.
func pingAndWait(t *testing.T, e *conn.EncryptedConn, nonce uint64) {
	t.Helper()
	if _, err := e.Write(appendNonceMsg(nil, ctrlPing, nonce)); err != nil {
		t.Fatal(err)
	}
	readUntil(t, e, func(h packetHeader, body []byte) bool {
		return h.topic == 0 && h.kind == ctrlPong && binary.BigEndian.Uint64(body) == nonce
	})
}

// TestReassemblyMemory: first packets that declare long messages but carry
// one byte each make the receiver hold memory in proportion to the bytes
// that arrived, not to the lengths declared (issue 11: 900 bytes of first
// packets on 100 topics used to pin 100 MiB).
func TestReassemblyMemory(t *testing.T) {
	const limit = 8 << 20
	for _, tc := range []struct {
		name     string
		topics   int
		declared int
	}{
		{"100 topics, 1 MiB declared on each", 100, 1 << 20},
		{"one topic, 64 MiB declared", 1, 64 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var topics []TopicConfig
			cs := settings{maxPacket: 1024}
			for i := 1; i <= tc.topics; i++ {
				topics = append(topics, TopicConfig{ID: uint8(i), MaxMessageSize: tc.declared, RecvWindow: tc.declared + MessageCreditOverhead})
				cs.topics = append(cs.topics, topicSettings{id: uint8(i), maxMessage: 1000, window: 1064})
			}
			var delivered atomic.Int64
			cfg := &Config{Topics: topics, OnMessage: func(m *Message) { m.Done(); delivered.Add(1) }}
			e, s := rawMultiPeer(t, cfg, &cs)
			pingAndWait(t, e, 1)
			before := heapInUse()
			var b []byte
			for _, tp := range topics {
				b = append(b, rawFirst(tp.ID, tc.declared, 1)...)
			}
			if _, err := e.Write(b); err != nil {
				t.Fatal(err)
			}
			pingAndWait(t, e, 2)
			after := heapInUse()
			grew := int64(after) - int64(before)
			t.Logf("%d bytes of first packets declaring %d × %d bytes: heap in use grew by %d KiB", len(b), tc.topics, tc.declared, grew>>10)
			if grew > limit {
				t.Fatalf("heap in use grew by %.1f MiB, limit %d MiB", float64(grew)/(1<<20), limit>>20)
			}
			if s.Err() != nil || delivered.Load() != 0 {
				t.Fatalf("connection %v, %d messages delivered", s.Err(), delivered.Load())
			}
		})
	}
}

// TestReassemblyContent: messages of lengths around the steps of
// reassembly (head, chunks, the switch to one buffer at half) arrive intact,
// each in a slice of exactly its length, with packets that fit the pooled
// chunks evenly and packets that straddle them.
func TestReassemblyContent(t *testing.T) {
	sizes := []int{0, 1, reassemblyMinBuf - 1, reassemblyMinBuf, reassemblyMinBuf + 1, 2 * reassemblyMinBuf, 3*reassemblyMinBuf + 7,
		bufLen, 2*bufLen + 1, 1<<20 + 3, 4 << 20}
	for _, maxPacket := range []int{0, 1000, MaxPacketPayloadLimit} {
		t.Run(fmt.Sprintf("max packet %d", maxPacket), func(t *testing.T) {
			topics := []TopicConfig{{ID: 1, MaxMessageSize: 4 << 20}}
			ca, _ := mcConfig(topics)
			cb, inb := mcConfig(topics)
			ca.MaxPacketPayload, cb.MaxPacketPayload = maxPacket, maxPacket
			a, _ := mcPair(t, ca, cb)
			for _, n := range sizes {
				msg := make([]byte, n)
				for i := range msg {
					msg[i] = byte(i*7 + i>>11)
				}
				if err := a.Send(context.Background(), 1, msg); err != nil {
					t.Fatal(err)
				}
				m := inb.recv(t, 1, 10*time.Second)
				if !bytes.Equal(m.Data, msg) {
					t.Fatalf("%d-byte message arrived as %d bytes, first difference at %d", n, len(m.Data), firstDiff(m.Data, msg))
				}
				if cap(m.Data) != n {
					t.Fatalf("%d-byte message held in a %d-byte buffer", n, cap(m.Data))
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// zeroTransport is a Transport whose reads return zeros at memory speed:
// the reader's work without the network and the decryption.
type zeroTransport struct{ net.Conn }

func (zeroTransport) Read(p []byte) (int, error) { clear(p); return len(p), nil }
func (zeroTransport) RemoteID() crypto.ID        { return crypto.ID{} }
func (zeroTransport) RemoteMeta() *pb.PeerMeta   { return nil }

// BenchmarkReassembly is the receiver's CPU cost of reading a message's
// payloads, 16 KiB packets, into its buffer: "whole" allocates the declared
// length at the first packet (the code before reassembly.go), "reassembly"
// is what the reader does now. The reads copy from a cleared buffer, so the
// difference is the extra work alone, not diluted by TCP and the AEAD.
func BenchmarkReassembly(b *testing.B) {
	const packet = 16 << 10
	for _, size := range []int{1 << 20, 64 << 20} {
		for _, mode := range []string{"whole", "reassembly"} {
			b.Run(fmt.Sprintf("%s/%dMiB", mode, size>>20), func(b *testing.B) {
				c := &MultiConn{t: zeroTransport{}, clock: clock.Real()}
				c.rd.init(c)
				var r reassembly
				budget := newRxBudget()
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for range b.N {
					if mode == "whole" {
						buf := make([]byte, size)
						for off := 0; off < size; off += packet {
							if err := c.rd.readFull(buf[off:min(off+packet, size)]); err != nil {
								b.Fatal(err)
							}
						}
						continue
					}
					r.start(size, packet, &budget)
					for !r.complete() {
						if err := r.read(&c.rd, min(packet, r.rest()), &budget); err != nil {
							b.Fatal(err)
						}
					}
					r.finish(&budget)
					r.take()
				}
				c.rd.release()
			})
		}
	}
}

// TestReassemblyEagerBudget: messages up to reassemblyEagerMax are
// allocated whole only while the connection's budget lasts, and a finished
// message gives its share back.
func TestReassemblyEagerBudget(t *testing.T) {
	budget := newRxBudget()
	n := reassemblyEagerBudget / reassemblyEagerMax
	rs := make([]reassembly, n+1)
	for i := range rs {
		rs[i].start(reassemblyEagerMax, 1, &budget)
		if want := i < n; rs[i].eager != want || (cap(rs[i].buf) == reassemblyEagerMax) != want {
			t.Fatalf("message %d: eager %v, buffer %d bytes; budget left %d", i, rs[i].eager, cap(rs[i].buf), budget)
		}
	}
	var big reassembly
	if big.start(reassemblyEagerMax+1, 1, &budget); big.eager {
		t.Fatal("a message over reassemblyEagerMax was allocated whole")
	}
	rs[0].finish(&budget)
	rs[n].finish(&budget)
	if budget.eager != reassemblyEagerMax {
		t.Fatalf("budget %d after one eager and one lazy message finished, want %d", budget.eager, reassemblyEagerMax)
	}
}

// TestReassemblyEarlyBudget: a long message moves to its one buffer once a
// sixteenth of it has arrived while the connection's early budget covers
// what it still lacks; a message the budget cannot cover waits for half;
// finish gives the budget back.
func TestReassemblyEarlyBudget(t *testing.T) {
	const packet = 16 << 10
	c := &MultiConn{t: zeroTransport{}, clock: clock.Real()}
	c.rd.init(c)
	defer c.rd.release()
	budget := newRxBudget()
	// feed reads packets into r until it holds one buffer of its full
	// length, and returns the bytes that had arrived by then.
	feed := func(r *reassembly) int {
		t.Helper()
		for cap(r.buf) != r.total {
			if err := r.read(&c.rd, min(packet, r.rest()), &budget); err != nil {
				t.Fatal(err)
			}
		}
		return r.n
	}
	const total = 16 << 20
	tests := []struct {
		name      string
		before    int // early budget left at the message's start
		switchMin int // bytes arrived when it switches, at least
		switchMax int
		taken     int // early budget the message took
	}{
		{"covered: at a sixteenth", reassemblyEarlyBudget, total / 16, total/16 + packet, total - total/16 - packet},
		{"not covered: at half", total / 2, total / 2, total/2 + packet, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			budget = newRxBudget()
			budget.early = tt.before
			var r reassembly
			r.start(total, packet, &budget)
			got := feed(&r)
			if got < tt.switchMin || got > tt.switchMax {
				t.Fatalf("switched to one buffer with %d of %d bytes arrived, want %d..%d", got, total, tt.switchMin, tt.switchMax)
			}
			if taken := tt.before - budget.early; taken < tt.taken || taken > tt.taken+packet {
				t.Fatalf("early budget taken %d, want %d..%d", taken, tt.taken, tt.taken+packet)
			}
			for !r.complete() {
				if err := r.read(&c.rd, min(packet, r.rest()), &budget); err != nil {
					t.Fatal(err)
				}
			}
			r.finish(&budget)
			if budget != (rxBudget{eager: reassemblyEagerBudget, early: tt.before}) {
				t.Fatalf("budget %+v after finish, want early %d back", budget, tt.before)
			}
			if b, _ := r.take(); len(b) != total || cap(b) != total {
				t.Fatalf("message of %d bytes in a %d-byte buffer", len(b), cap(b))
			}
		})
	}
	// Two 16 MiB messages in progress at once both switch early; a third
	// finds the budget spent and waits for half.
	budget = newRxBudget()
	rs := make([]reassembly, 3)
	for i := range rs {
		rs[i].start(total, packet, &budget)
	}
	for i, want := range []int{total / 16, total / 16, total / 2} {
		if got := feed(&rs[i]); got < want || got > want+packet {
			t.Fatalf("message %d switched with %d bytes arrived, want %d", i, got, want)
		}
	}
}
