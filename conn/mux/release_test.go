package mux

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
	"unsafe"
)

// TestMsgBufClasses: a released buffer is reused for a later message of
// its class, whatever the message's exact length within it, and never for
// one it cannot hold; messages outside 64 KiB-64 MiB are not pooled; a
// pooled buffer is under 1.25× its message.
func TestMsgBufClasses(t *testing.T) {
	for _, tc := range []struct {
		name      string
		put, get  int // message lengths: released, then asked for
		reused    bool
		classSize int // the buffer behind a pooled message (0: not pooled)
	}{
		{"same size", 1 << 20, 1 << 20, true, 1 << 20},
		{"same size past a power of two", 1<<20 + 1, 1<<20 + 1, true, 5 << 18},
		{"smaller message of the class", 5 << 18, 1<<20 + 1, true, 5 << 18},
		{"larger message of the class", 1<<20 + 1, 5 << 18, true, 5 << 18},
		{"next class", 1 << 20, 1<<20 + 1, false, 5 << 18},
		{"under 64 KiB: not pooled", 64<<10 - 1, 64<<10 - 1, false, 0},
		{"smallest class", 64 << 10, 64 << 10, true, 64 << 10},
		{"largest class", 64 << 20, 64<<20 - 1, true, 64 << 20},
		{"over 64 MiB: not pooled", 64<<20 + 1, 64<<20 + 1, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// sync.Pool may drop an item (under -race, a quarter of them,
			// and when the goroutine moves to another P): release
			// several, and one must come back.
			mine := map[*byte]bool{}
			var fulls []*[]byte
			for range 16 { // 16 buffers held at once, then all released
				if _, full := newMsgBuf(0, tc.put); full != nil {
					mine[&(*full)[0]] = true
					fulls = append(fulls, full)
				}
			}
			for _, full := range fulls {
				putMsgBuf(full)
			}
			reused := false
			for range 16 {
				b, full := newMsgBuf(7, tc.get)
				if len(b) != 7 || cap(b) != tc.get {
					t.Fatalf("newMsgBuf(7, %d): len %d cap %d", tc.get, len(b), cap(b))
				}
				if got := 0; full != nil {
					got = cap(*full)
					if got != tc.classSize || &(*full)[0] != &b[:1][0] {
						t.Fatalf("newMsgBuf(7, %d): class buffer of %d bytes, want %d behind the message", tc.get, got, tc.classSize)
					}
					if 4*got >= 5*tc.get {
						t.Fatalf("a %d-byte message in a %d-byte buffer: 1.25× or more", tc.get, got)
					}
				} else if tc.classSize != 0 {
					t.Fatalf("newMsgBuf(7, %d): not pooled, want a %d-byte class", tc.get, tc.classSize)
				}
				if mine[&b[:1][0]] {
					reused = true
				}
			}
			if reused != tc.reused {
				t.Fatalf("a %d-byte message's buffer reused for a %d-byte message: %v, want %v", tc.put, tc.get, reused, tc.reused)
			}
		})
	}
}

// TestMessageRelease: messages whose buffers were released arrive intact in
// reused buffers, and Release returns the credit as Done does; for a
// message allocated whole at its first packet (128 KiB) and one reassembled
// through chunks first (2 MiB).
func TestMessageRelease(t *testing.T) {
	for _, size := range []int{128 << 10, 2<<20 + 1} {
		t.Run(fmt.Sprint(size>>10, "KiB"), func(t *testing.T) { testMessageRelease(t, size) })
	}
}

func testMessageRelease(t *testing.T, size int) {
	const n = 40
	topics := []TopicConfig{{ID: 2, Name: "blocks", MaxMessageSize: size, SendQueue: 4, RecvWindow: 2 * size}}
	type got struct {
		data  []byte
		first *byte
	}
	ch := make(chan got, n)
	ca := &Config{Topics: topics, OnMessage: func(m *Message) { m.Done() }}
	cb := &Config{Topics: topics, OnMessage: func(m *Message) {
		ch <- got{bytes.Clone(m.Data), &m.Data[0]}
		m.Release() // credit: without it only two messages would arrive
		m.Release() // a second call does nothing
		if m.Data != nil {
			t.Error("Data kept after Release")
		}
	}}
	a, _ := mcPair(t, ca, cb)
	seen := map[*byte]bool{}
	reused := 0
	for i := range n {
		msg := bytes.Repeat([]byte{byte(i)}, size)
		if err := a.Send(context.Background(), 2, msg); err != nil {
			t.Fatal(err)
		}
		select {
		case g := <-ch:
			if !bytes.Equal(g.data, msg) {
				t.Fatalf("message %d corrupted", i)
			}
			if seen[g.first] {
				reused++
			}
			seen[g.first] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d did not arrive", i)
		}
	}
	if reused == 0 {
		t.Fatalf("none of %d messages was received into a released buffer", n)
	}
	(&Message{Data: []byte{1}}).Release() // not a MultiConn's: no-op
	if sz := unsafe.Sizeof(Message{}); sz > 96 {
		t.Errorf("a Message is %d bytes, past the 96-byte size class", sz)
	}
}
