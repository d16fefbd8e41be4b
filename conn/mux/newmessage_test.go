package mux

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// wrapped is a layer above's value holding a Message (Config.NewMessage).
type wrapped struct {
	m    Message
	note string
}

// TestNewMessage: with Config.NewMessage set, every message the reader
// delivers is one NewMessage made, filled as usual (topic, data, sender,
// credit: none is held once each is released), and its Outer names the
// value holding it; From is the sender.
// Without it, Outer is nil.
func TestNewMessage(t *testing.T) {
	ca, _ := mcConfig(mcTestTopics())
	cb, in := mcConfig(mcTestTopics())
	var made atomic.Int64
	cb.NewMessage = func() *Message {
		made.Add(1)
		w := &wrapped{note: "ours"}
		w.m.Outer = w
		return &w.m
	}
	a, b := mcPair(t, ca, cb)
	ctx := context.Background()
	sizes := []int{1, 300, 70 << 10, 2 << 20} // one packet, several, pooled buffers
	for i, n := range sizes {
		msg := make([]byte, n)
		msg[0] = byte(i)
		if err := a.Send(ctx, 2, msg); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range sizes {
		m := in.recv(t, 2, 10*time.Second)
		w, ok := m.Outer.(*wrapped)
		if !ok || &w.m != m || w.note != "ours" {
			t.Fatalf("message %d: Outer %v, not the value NewMessage made", i, m.Outer)
		}
		if m.Topic != 2 || len(m.Data) != n || m.Data[0] != byte(i) {
			t.Fatalf("message %d: topic %d, %d bytes (first %d), want topic 2, %d bytes (first %d)", i, m.Topic, len(m.Data), m.Data[0], n, i)
		}
		if m.From() != b.RemoteID() || m.From() == (crypto.ID{}) {
			t.Fatalf("message %d from %s, want %s", i, m.From().Short(), b.RemoteID().Short())
		}
		m.Release()
	}
	if stats := b.Stats(); made.Load() != int64(len(sizes)) || stats.Topics[1].RecvHeld != 0 {
		t.Fatalf("NewMessage called %d times for %d messages; %d still held", made.Load(), len(sizes), stats.Topics[1].RecvHeld)
	}

	pa, _ := mcConfig(mcTestTopics())
	pb, pin := mcConfig(mcTestTopics())
	c, _ := mcPair(t, pa, pb)
	if err := c.Send(ctx, 1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if m := pin.recv(t, 1, 10*time.Second); m.Outer != nil {
		t.Fatalf("without NewMessage, Outer is %v", m.Outer)
	}
	if got := (&Message{}).From(); got != (crypto.ID{}) {
		t.Fatalf("From of a Message not made by a MultiConn: %s", got.Short())
	}
}
