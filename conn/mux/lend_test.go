package mux

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// TestLendMessages: with Config.LendMessages, OnMessage gets the reader's
// own Message each time. One not kept is Done when OnMessage returns, once
// even if OnMessage was done with it: a receiver that never calls Done
// still takes many windows' worth, and one granted twice would break the
// sender's window (a violation that ends the connection). Keep returns a
// message of its own, from NewMessage when set, that later messages leave
// intact and whose credit is held until its Done; keeping one already
// Done holds nothing. Pooled tells buffers the connection reuses.
func TestLendMessages(t *testing.T) {
	const (
		window = 16 << 10
		size   = 1 << 10
		count  = 12 * window / size // many windows: credit must come back
	)
	topics := []TopicConfig{{ID: 1, Name: "votes", Priority: 10, MaxMessageSize: 128 << 10, RecvWindow: 256 << 10},
		{ID: 2, Name: "small", Priority: 5, MaxMessageSize: window / 2, RecvWindow: window}}
	for _, tc := range []struct {
		name string
		// on is what OnMessage does with the lent message: it returns the
		// message it keeps, or nil.
		on   func(m *Message) *Message
		kept bool // on keeps every message
		held bool // kept messages hold their credit until Done
	}{
		{"not kept", func(m *Message) *Message { return nil }, false, false},
		{"done, not kept", func(m *Message) *Message { m.Done(); return nil }, false, false},
		{"kept", func(m *Message) *Message { return m.Keep() }, true, true},
		{"done, then kept", func(m *Message) *Message { m.Done(); return m.Keep() }, true, false},
		{"kept twice", func(m *Message) *Message { k := m.Keep(); return k.Keep() }, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca, _ := mcConfig(topics)
			cb, _ := mcConfig(topics)
			cb.LendMessages = true
			made := 0
			cb.NewMessage = func() *Message {
				made++ // reader goroutine only
				w := &wrapped{note: "kept"}
				w.m.Outer = w
				return &w.m
			}
			type got struct {
				lent, kept *Message
				data       []byte
			}
			ch := make(chan got, count)
			cb.OnMessage = func(m *Message) {
				g := got{lent: m, data: bytes.Clone(m.Data)}
				g.kept = tc.on(m)
				ch <- g
			}
			a, b := mcPair(t, ca, cb)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			go func() {
				for i := range count {
					msg := bytes.Repeat([]byte{byte(i)}, size)
					if err := a.Send(ctx, 2, msg); err != nil {
						return // the receive below fails
					}
				}
			}()
			var lent *Message
			var kept []*Message
			for i := range count {
				var g got
				select {
				case g = <-ch:
				case <-ctx.Done():
					t.Fatalf("message %d of %d did not arrive (%v, sender: %v)", i, count, ctx.Err(), a.Err())
				}
				if lent == nil {
					lent = g.lent
				} else if g.lent != lent {
					t.Fatalf("message %d: OnMessage got a Message other than the lent one", i)
				}
				if len(g.data) != size || g.data[0] != byte(i) {
					t.Fatalf("message %d: %d bytes, first %d", i, len(g.data), g.data[0])
				}
				if tc.kept != (g.kept != nil) {
					t.Fatalf("message %d: kept %v", i, g.kept != nil)
				}
				if g.kept != nil {
					if g.kept == lent {
						t.Fatalf("message %d: Keep returned the lent message", i)
					}
					if w, ok := g.kept.Outer.(*wrapped); !ok || &w.m != g.kept {
						t.Fatalf("message %d: the kept message is not one NewMessage made", i)
					}
					kept = append(kept, g.kept)
					switch last := window/size - 2; { // the last message short of the window
					case !tc.held || i > last:
						g.kept.Done() // for one Done already, nothing more
					case i == last:
						if held := b.Stats().Topics[1].RecvHeld; held != int64(len(kept)) {
							t.Fatalf("%d kept messages hold credit, %d held", len(kept), held)
						}
						for _, k := range kept {
							k.Done()
						}
					}
				}
			}
			for i, k := range kept {
				if k.Topic != 2 || len(k.Data) != size || k.Data[0] != byte(i) || k.From() != b.RemoteID() || k.ReceivedAt().IsZero() {
					t.Fatalf("kept message %d changed: topic %d, %d bytes (first %d), from %s", i, k.Topic, len(k.Data), k.Data[0], k.From().Short())
				}
			}
			if want := len(kept); made != want {
				t.Fatalf("NewMessage made %d messages, %d kept", made, want)
			}
			// A message after the lot shows the sender took no credit
			// beyond its window: it would have closed on a violation.
			if err := a.Send(ctx, 1, []byte("last")); err != nil {
				t.Fatalf("sender: %v", err)
			}
			select {
			case <-ch:
			case <-ctx.Done():
				t.Fatalf("the last message did not arrive (sender: %v)", a.Err())
			}
			if err := a.Err(); err != nil {
				t.Fatalf("sender: %v", err)
			}
			if held := b.Stats().Topics[1].RecvHeld; held != 0 {
				t.Fatalf("%d messages still hold credit", held)
			}
		})
	}
}

// TestLendPooled: a lent message tells whether its Data is a buffer the
// connection reuses (64 KiB or more) and which it therefore gives back
// only through a kept message's Release; a Message not made by a
// MultiConn keeps as itself.
func TestLendPooled(t *testing.T) {
	ca, _ := mcConfig(mcTestTopics())
	cb, _ := mcConfig(mcTestTopics())
	cb.LendMessages = true
	pooled := make(chan bool, 2)
	cb.OnMessage = func(m *Message) { pooled <- m.Pooled() }
	a, _ := mcPair(t, ca, cb)
	ctx := context.Background()
	for _, tc := range []struct {
		size int
		want bool
	}{{300, false}, {70 << 10, true}} {
		if err := a.Send(ctx, 2, make([]byte, tc.size)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-pooled:
			if got != tc.want {
				t.Errorf("%d bytes: Pooled %v, want %v", tc.size, got, tc.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d bytes: no message", tc.size)
		}
	}
	m := &Message{}
	if m.Keep() != m {
		t.Fatal("Keep of a Message not made by a MultiConn is not itself")
	}
}
