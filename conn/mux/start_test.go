package mux

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// unstartedPair returns a started MultiConn a and a MultiConn b that New
// built but nothing started, over loopback TCP, with counters of b's
// callbacks. Both end when the test does.
func unstartedPair(t *testing.T) (a, b *MultiConn, bMessages, bCloses *atomic.Int32) {
	t.Helper()
	ca, _ := mcConfig(mcTestTopics())
	bMessages, bCloses = new(atomic.Int32), new(atomic.Int32)
	cb := &Config{Topics: mcTestTopics(), CloseTimeout: 5 * time.Second,
		OnMessage: func(m *Message) { bMessages.Add(1); m.Done() },
		OnClose:   func(*MultiConn, error) { bCloses.Add(1) }}
	ea, eb := hs.Pair(t, mcSecureConfig(t, 1, ca.Topics), mcSecureConfig(t, 2, cb.Topics))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch := make(chan error, 1)
	go func() {
		var err error
		b, err = New(ctx, eb, cb)
		ch <- err
	}()
	a, err := newStarted(ctx, ea, ca)
	if errB := <-ch; err != nil || errB != nil {
		t.Fatalf("New: %v / %v", err, errB)
	}
	t.Cleanup(func() {
		a.Abort(GoAwayShutdown, "test over")
		b.Abort(GoAwayShutdown, "test over")
		<-a.Done()
		<-b.Done()
	})
	return a, b, bMessages, bCloses
}

// TestRefuseBeforeStart: a MultiConn that New built and nothing started
// can be refused with GoAway, Abort or Close: the peer receives the goaway,
// none of what it sent is delivered, no callback runs, and Done closes.
func TestRefuseBeforeStart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse func(*MultiConn) error
		want   GoAwayCode
	}{
		{"GoAway", func(c *MultiConn) error { return c.GoAway(context.Background(), GoAwayTooManyPeers, "full") }, GoAwayTooManyPeers},
		{"Abort", func(c *MultiConn) error { c.Abort(GoAwayBanned, "banned"); return nil }, GoAwayBanned},
		{"Close", func(c *MultiConn) error { return c.Close() }, GoAwayShutdown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, msgs, closes := unstartedPair(t)
			for range 10 {
				if err := a.Send(context.Background(), 1, []byte("vote")); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.refuse(b); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			mcWaitDone(t, b, 5*time.Second)
			mcWaitDone(t, a, 5*time.Second)
			if ge := a.RemoteGoAway(); ge == nil || ge.Code != tc.want {
				t.Fatalf("peer's RemoteGoAway %v (Err %v), want code %v", ge, a.Err(), tc.want)
			}
			var ge *GoAwayError
			if !errors.As(b.Err(), &ge) || ge.Code != tc.want || ge.Remote {
				t.Fatalf("Err %v, want our goaway %v", b.Err(), tc.want)
			}
			if err := b.TrySend(1, []byte("x")); !errors.Is(err, ErrClosed) {
				t.Fatalf("TrySend after refusal: %v", err)
			}
			if msgs.Load() != 0 || closes.Load() != 0 {
				t.Fatalf("an unstarted MultiConn ran callbacks: %d OnMessage, %d OnClose", msgs.Load(), closes.Load())
			}
		})
	}
}

// TestStartAfterClose: Start on a MultiConn closed before it only arranges
// OnClose, which runs once; a second Start does nothing.
func TestStartAfterClose(t *testing.T) {
	_, b, msgs, closes := unstartedPair(t)
	if err := b.GoAway(context.Background(), GoAwayShutdown, ""); err != nil {
		t.Fatal(err)
	}
	b.Start()
	b.Start()
	testutil.Eventually(t, 5*time.Second, "OnClose", func() bool { return closes.Load() == 1 })
	if msgs.Load() != 0 || closes.Load() != 1 {
		t.Fatalf("%d OnMessage, %d OnClose", msgs.Load(), closes.Load())
	}
}

// TestStartTwice: a second Start does not start a second reader or writer.
func TestStartTwice(t *testing.T) {
	a, b, msgs, closes := unstartedPair(t)
	b.Start()
	b.Start()
	if err := a.Send(context.Background(), 1, []byte("vote")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the message", func() bool { return msgs.Load() == 1 })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "OnClose", func() bool { return closes.Load() == 1 })
}
