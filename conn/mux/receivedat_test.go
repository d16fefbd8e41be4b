package mux

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/clock"
)

// tickClock is the real clock whose Now returns clock.Start plus one
// millisecond more at every call, so two readings never coincide. It is
// not clock.Fake on purpose: on a fake clock that stands still every
// reading coincides, so TestMessageReceivedAt could not tell one reading
// per read from one per message.
type tickClock struct {
	clock.Clock
	n atomic.Int64
}

func (c *tickClock) Now() time.Time {
	return clock.Start.Add(time.Duration(c.n.Add(1)) * time.Millisecond)
}

// TestMessageReceivedAt: a message's ReceivedAt is the clock reading of
// the transport read that completed it, one reading per read: the
// messages one frame carries share it, a later frame's are later, and a
// Message not made by a MultiConn has none.
func TestMessageReceivedAt(t *testing.T) {
	clk := &tickClock{Clock: clock.Real()}
	cfg, in := mcConfig(violTopics)
	cfg.Clock = clk
	e, _ := rawMultiPeer(t, cfg, &violClientSettings)
	// Three whole messages in one frame of fewer than smallReadLen bytes:
	// the idle reader takes them in one read.
	if _, err := e.Write(cat(rawFirst(1, 5, 5), rawFirst(1, 6, 6), rawFirst(1, 7, 7))); err != nil {
		t.Fatal(err)
	}
	var first []*Message
	for range 3 {
		first = append(first, in.recv(t, 1, 10*time.Second))
	}
	if _, err := e.Write(rawFirst(1, 8, 8)); err != nil {
		t.Fatal(err)
	}
	last := in.recv(t, 1, 10*time.Second)
	at := first[0].ReceivedAt()
	if !at.After(clock.Start) || at.After(clk.Now()) {
		t.Fatalf("first message received at %v, not a reading of the connection's clock", at)
	}
	for i, m := range first {
		if len(m.Data) != 5+i || !m.ReceivedAt().Equal(at) {
			t.Fatalf("message %d of the frame: %d bytes at %v, want %d bytes at %v", i, len(m.Data), m.ReceivedAt(), 5+i, at)
		}
	}
	if !last.ReceivedAt().After(at) {
		t.Fatalf("next frame's message received at %v, not after %v", last.ReceivedAt(), at)
	}
	if got := (&Message{}).ReceivedAt(); !got.IsZero() {
		t.Fatalf("a hand-made Message received at %v", got)
	}
}
