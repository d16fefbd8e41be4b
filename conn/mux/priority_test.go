package mux

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn"
)

// wireRecorder is a Transport that passes writes through to an
// EncryptedConn, recording the data packets of each batch in order, and
// that can hold the writer inside Write until released: the test's window
// onto what the scheduler puts on the wire.
type wireRecorder struct {
	*conn.EncryptedConn
	mu      sync.Mutex
	batches [][]packetHeader // the data-packet headers of each Write
	gate    chan struct{}    // while non-nil, Write waits for it to close
	entered chan struct{}    // receives once per Write that waits at the gate
}

func (w *wireRecorder) Write(b []byte) (int, error) {
	var hs []packetHeader
	for off := 0; off < len(b); {
		h, err := parsePacketHeader(b[off:])
		if err != nil {
			panic(fmt.Sprintf("writer produced a bad packet: %v", err))
		}
		if h.topic != 0 {
			hs = append(hs, h)
		}
		off += headerLen(b[off], b[off+1]) + h.length
	}
	w.mu.Lock()
	w.batches = append(w.batches, hs)
	gate := w.gate
	w.mu.Unlock()
	if gate != nil {
		w.entered <- struct{}{}
		<-gate
	}
	return w.EncryptedConn.Write(b)
}

// hold makes the next Writes wait until the returned release is called.
func (w *wireRecorder) hold() (release func()) {
	gate := make(chan struct{})
	w.mu.Lock()
	w.gate = gate
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		w.gate = nil
		w.mu.Unlock()
		close(gate)
	}
}

// TestMultiConnStrictPriority: three topics of three priorities are
// saturated at once — their queues filled while the writer is held inside
// a Write — and from then on no data packet of a lower priority goes out
// while a higher priority still has data: the wire carries every packet of
// the highest topic, then the middle, then the lowest, in separate batches.
// (TestMultiConnPriority shows that a vote overtakes a block; it passes
// under round-robin across priorities as well, this test does not.)
func TestMultiConnStrictPriority(t *testing.T) {
	const (
		perTopic = 24
		msgLen   = 20 << 10 // two packets each: 16 KiB + 4 KiB
	)
	topics := []TopicConfig{
		{ID: 1, Name: "low", Priority: 1, MaxMessageSize: msgLen},
		{ID: 2, Name: "high", Priority: 9, MaxMessageSize: msgLen},
		{ID: 3, Name: "mid", Priority: 5, MaxMessageSize: msgLen},
	}
	prio := map[uint8]uint8{1: 1, 2: 9, 3: 5}
	ca, _ := mcConfig(topics)
	cb, inb := mcConfig(topics)
	ea, eb := hs.Pair(t, mcSecureConfig(t, 1, topics), mcSecureConfig(t, 2, topics))
	rec := &wireRecorder{EncryptedConn: ea, entered: make(chan struct{}, 1)}
	a, _ := mcStart(t, rec, eb, ca, cb)

	// Hold the writer in the Write of a first, lone packet; meanwhile fill
	// all three queues, lowest priority first.
	release := rec.hold()
	if err := a.TrySend(1, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rec.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer never wrote the first packet")
	}
	rec.mu.Lock()
	saturated := len(rec.batches) // batches from here on were built with all queues full
	rec.mu.Unlock()
	for _, id := range []uint8{1, 3, 2} {
		for i := range perTopic {
			if err := a.TrySend(id, make([]byte, msgLen)); err != nil {
				t.Fatalf("topic %d message %d: %v", id, i, err)
			}
		}
	}
	release()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range []uint8{1, 2, 3} {
		for range perTopic + map[uint8]int{1: 1}[id] {
			select {
			case m := <-inb.ch[id]:
				m.Done()
			case <-ctx.Done():
				t.Fatalf("topic %d: not all messages arrived", id)
			}
		}
	}

	rec.mu.Lock()
	batches := rec.batches[saturated:]
	rec.mu.Unlock()
	// The topics in the order their data packets went out, runs merged,
	// and the bytes of each.
	var runs []uint8
	sent := map[uint8]int{}
	packets := 0
	mixed := -1
	for bi, hs := range batches {
		for _, h := range hs {
			if prio[h.topic] != prio[hs[0].topic] && mixed < 0 {
				mixed = bi
			}
			if len(runs) == 0 || runs[len(runs)-1] != h.topic {
				runs = append(runs, h.topic)
			}
			sent[h.topic] += h.length
			packets++
		}
	}
	if fmt.Sprint(runs) != "[2 3 1]" {
		t.Fatalf("after saturation the topics went out in %d runs, starting %v, want [2 3 1] (priorities 9, 5, 1): a lower priority was sent while a higher one had data",
			len(runs), runs[:min(len(runs), 12)])
	}
	if mixed >= 0 {
		t.Fatalf("batch %d mixes priorities: %v", mixed, batches[mixed])
	}
	for id := range prio {
		if sent[id] != perTopic*msgLen {
			t.Fatalf("topic %d: %d bytes after saturation, want %d", id, sent[id], perTopic*msgLen)
		}
	}
	t.Logf("%d data packets in %d batches after saturation, strictly by priority", packets, len(batches))
}
