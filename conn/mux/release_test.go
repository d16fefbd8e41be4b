package mux

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

func TestMsgBufClasses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		put    int // capacity released
		get    int // message length asked for
		reused bool
	}{
		{"same size", 1 << 20, 1 << 20, true},
		{"larger buffer, smaller message", 3 << 19, 1 << 20, true},
		{"smaller message of the class", 1 << 20, 3 << 18, true},
		{"too small for the message", 1 << 20, 1<<20 + 1, false},
		{"under 64 KiB: not pooled", 64<<10 - 1, 64<<10 - 1, false},
		{"smallest class", 64 << 10, 64 << 10, true},
		{"over 64 MiB: not pooled", 128 << 20, 128 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// sync.Pool may drop an item (under -race, a quarter of them,
			// and when the goroutine moves to another P): release
			// several, and one must come back.
			var mine [][]byte
			for range 16 {
				b := make([]byte, tc.put)
				mine = append(mine, b)
				putMsgBuf(b)
			}
			reused := false
			for range 16 {
				b := newMsgBuf(7, tc.get)
				if len(b) != 7 || cap(b) != tc.get {
					t.Fatalf("newMsgBuf(7, %d): len %d cap %d", tc.get, len(b), cap(b))
				}
				for _, m := range mine {
					if &m[0] == &b[:1][0] {
						reused = true
					}
				}
			}
			if reused != tc.reused {
				t.Fatalf("a %d-byte buffer reused for a %d-byte message: %v, want %v", tc.put, tc.get, reused, tc.reused)
			}
		})
	}
}

// TestMessageRelease: messages whose buffers were released arrive intact in
// reused buffers, and Release returns the credit as Done does; for a
// message allocated whole at its first packet (128 KiB) and one reassembled
// through chunks first (2 MiB).
func TestMessageRelease(t *testing.T) {
	for _, size := range []int{128 << 10, 2 << 20} {
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
}
