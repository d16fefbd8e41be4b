package mux

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
)

// TestCreditStallTimeout: a receiver that answers every ping but never
// consumes topic 2 is cut off with goaway "timeout" once topic 2 has had
// messages queued and no credit returned for CreditStallTimeout — not a
// moment earlier; a topic whose credit is just as used up but which has
// nothing queued is never judged stalled. The sender runs on a manual clock,
// advanced one ping interval at a time, each ping answered.
func TestCreditStallTimeout(t *testing.T) {
	const (
		interval = time.Second
		idle     = 5 * time.Second
		msgLen   = 4 << 10
	)
	// The window takes three 4 KiB messages (3 × 4160 bytes of credit), not four.
	topics := []TopicConfig{
		{ID: 1, Name: "votes", Priority: 5, MaxMessageSize: 1 << 10},
		{ID: 2, Name: "held", MaxMessageSize: msgLen, RecvWindow: 4*msgLen + MessageCreditOverhead},
	}
	for _, tc := range []struct {
		name    string
		msgs    int  // sent on topic 2, never consumed
		stalled bool // so the fourth waits for credit
	}{
		{"queued data waits for credit", 4, true},
		{"credit used up, nothing queued", 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake()
			ca, _ := mcConfig(topics)
			ca.Clock, ca.PingInterval, ca.IdleTimeout = clk, interval, idle // CreditStallTimeout: the default, idle
			cb, inb := mcConfig(topics)                                     // real clock, default (long) timers
			cb.PingRate = 1000                                              // our pings come as fast as the test advances the clock
			a, b := mcPair(t, ca, cb)
			for i := range tc.msgs {
				if err := a.TrySend(2, make([]byte, msgLen)); err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
			testutil.Eventually(t, 5*time.Second, "three messages out", func() bool { return a.Stats().Topics[1].MsgsSent == 3 })
			if tc.stalled {
				testutil.Eventually(t, 5*time.Second, "the fourth to wait for credit", func() bool { return a.Stats().Topics[1].CreditStalls == 1 })
			}
			// b holds topic 2 (no Done) but answers pings and consumes topic 1.
			waitPong := func(i int) {
				testutil.Eventually(t, 5*time.Second, fmt.Sprintf("pong %d", i), func() bool { return a.RTT().Samples == uint64(i) || a.Err() != nil })
				if a.Err() != nil {
					t.Fatalf("closed after %d pings: %v", i, a.Err())
				}
			}
			pong := func(i int) {
				clk.Advance(interval)
				waitPong(i)
				if err := a.Send(context.Background(), 1, []byte("vote")); err != nil {
					t.Fatalf("after %d pings: %v", i, err)
				}
				inb.recv(t, 1, 5*time.Second)
			}
			for i := 1; i < int(idle/interval); i++ {
				pong(i)
			}
			clk.Advance(interval - time.Millisecond)
			if a.Err() != nil {
				t.Fatalf("closed %v before the stall timeout: %v", idle-time.Millisecond, a.Err())
			}
			clk.Advance(time.Millisecond)
			if !tc.stalled {
				// Five more idle periods, each ping answered: still open.
				waitPong(int(idle / interval))
				for i := int(idle/interval) + 1; i <= 6*int(idle/interval); i++ {
					pong(i)
				}
				if a.Err() != nil || b.Err() != nil {
					t.Fatalf("a topic with nothing queued was judged stalled: %v / %v", a.Err(), b.Err())
				}
				if held := b.Stats().Topics[1].RecvHeld; held != 3 {
					t.Fatalf("b holds %d topic 2 messages, want 3", held)
				}
				return
			}
			mcWaitDone(t, a, 5*time.Second)
			mcWaitDone(t, b, 5*time.Second)
			ge := goAwayOf(t, a.Err())
			if ge.Code != GoAwayTimeout || ge.Remote || !errors.Is(a.Err(), ErrCreditStall) || errors.Is(a.Err(), ErrIdleTimeout) {
				t.Fatalf("a: %v, want our own credit-stall timeout", a.Err())
			}
			rg := b.RemoteGoAway()
			if rg == nil || rg.Code != GoAwayTimeout || !strings.HasPrefix(rg.Text, "no credit on topic 2 for 5s") {
				t.Fatalf("b saw %v", b.Err())
			}
			if st := a.Stats(); st.Unsent != 1 {
				t.Fatalf("unsent %d, want the one stalled message", st.Unsent)
			}
		})
	}
}

// TestCreditStallResetByCredit: credit returned on a stalled topic restarts
// the stall clock even when it is not enough to send the next message; a
// peer that consumes slowly but steadily is never cut off.
func TestCreditStallResetByCredit(t *testing.T) {
	const interval, idle = time.Second, 5 * time.Second
	// A 4 KiB window update threshold: each consumed 4 KiB message grants
	// its credit back at once, but the stalled 12 KiB message needs three.
	topics := []TopicConfig{{ID: 2, MaxMessageSize: 12 << 10, RecvWindow: 16 << 10}}
	clk := clock.NewFake()
	ca, _ := mcConfig(topics)
	ca.Clock, ca.PingInterval, ca.IdleTimeout = clk, interval, idle
	cb, inb := mcConfig(topics)
	cb.PingRate = 1000
	a, b := mcPair(t, ca, cb)
	for range 3 {
		if err := a.TrySend(2, make([]byte, 4<<10)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.TrySend(2, make([]byte, 12<<10)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the 12 KiB message to wait for credit", func() bool { return a.Stats().Topics[0].CreditStalls == 1 })
	pings := 0
	advance := func() { // one ping interval, its ping answered
		clk.Advance(interval)
		pings++
		testutil.Eventually(t, 5*time.Second, "the pong", func() bool { return a.RTT().Samples == uint64(pings) || a.Err() != nil })
		if a.Err() != nil {
			t.Fatalf("closed after %d pings: %v", pings, a.Err())
		}
	}
	for i := range 3 {
		for range int(idle/interval) - 1 {
			advance()
		}
		if a.Err() != nil {
			t.Fatalf("closed after %d credit returns: %v", i, a.Err())
		}
		// One message consumed: 4 KiB of credit back, the 12 KiB message
		// still waits (until the third).
		inb.recv(t, 2, 5*time.Second)
		want := int64(i+1) * (4<<10 + MessageCreditOverhead)
		testutil.Eventually(t, 5*time.Second, "the credit", func() bool {
			return a.Stats().Topics[0].SendCredit >= want || a.Stats().Topics[0].MsgsSent == 4
		})
	}
	inb.recv(t, 2, 5*time.Second)
	if a.Err() != nil || b.Err() != nil {
		t.Fatalf("a steadily consuming peer was cut off: %v / %v", a.Err(), b.Err())
	}
}

// TestSendQueueBytes: a topic's send queue is bounded in bytes as well as
// messages. With the peer not consuming, TrySend fails with ErrQueueFull
// and Send waits (until its context ends) once a message would take the
// queue past SendQueueBytes, although the message count is far below
// SendQueue; nothing is dropped, and once the peer consumes, the waiting
// Send goes through and everything arrives in order.
func TestSendQueueBytes(t *testing.T) {
	const msgLen = 16 << 10
	topics := []TopicConfig{{ID: 3, MaxMessageSize: msgLen, RecvWindow: msgLen + MessageCreditOverhead, SendQueueBytes: 4 * msgLen}}
	ca, _ := mcConfig(topics)
	cb, inb := mcConfig(topics)
	a, _ := mcPair(t, ca, cb)
	msg := func(i int) []byte {
		m := make([]byte, msgLen)
		m[0] = byte(i)
		return m
	}
	// The window takes one message; it goes out, then the queue fills.
	if err := a.TrySend(3, msg(0)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the first message out", func() bool { return a.Stats().Topics[0].MsgsSent == 1 })
	for i := 1; i <= 4; i++ {
		if err := a.TrySend(3, msg(i)); err != nil {
			t.Fatalf("message %d of 4 KiB × 4: %v", i, err)
		}
	}
	if st := a.Stats().Topics[0]; st.SendQueue != 4 || st.SendQueueBytes != 4*msgLen {
		t.Fatalf("queue %d messages, %d bytes", st.SendQueue, st.SendQueueBytes)
	}
	for _, n := range []int{msgLen, 1, 0} {
		err := a.TrySend(3, make([]byte, n))
		if n == 0 {
			if err != nil { // an empty message fits a full byte bound
				t.Fatalf("TrySend of 0 bytes: %v", err)
			}
			continue
		}
		if !errors.Is(err, ErrQueueFull) || !strings.Contains(err.Error(), "bytes") {
			t.Fatalf("TrySend of %d bytes to a full queue: %v", n, err)
		}
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Send(cancelled, 3, make([]byte, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send to a full queue: %v", err)
	}
	sent := make(chan error, 1)
	go func() { sent <- a.Send(context.Background(), 3, msg(6)) }()
	for i := 0; i <= 4; i++ {
		if m := inb.recv(t, 3, 5*time.Second); m.Data[0] != byte(i) || len(m.Data) != msgLen {
			t.Fatalf("message %d arrived as %d (%d bytes)", i, m.Data[0], len(m.Data))
		}
	}
	if m := inb.recv(t, 3, 5*time.Second); len(m.Data) != 0 {
		t.Fatalf("the empty message arrived with %d bytes", len(m.Data))
	}
	if err := <-sent; err != nil {
		t.Fatalf("the waiting Send: %v", err)
	}
	if m := inb.recv(t, 3, 5*time.Second); m.Data[0] != 6 {
		t.Fatalf("the waiting Send's message arrived as %d", m.Data[0])
	}
	if st := a.Stats(); st.Unsent != 0 || st.Topics[0].SendQueueBytes != 0 {
		t.Fatalf("after draining: %+v", st.Topics[0])
	}
}

// TestSendQueueBytesDefault: the documented default byte bound.
func TestSendQueueBytesDefault(t *testing.T) {
	for _, tc := range []struct{ maxMsg, want int }{
		{1 << 10, 1 << 20},
		{64 << 10, 1 << 20},
		{256 << 10, 1 << 20},
		{1 << 20, 4 << 20},
		{4 << 20, 16 << 20},
		{16 << 20, 16 << 20},
		{64 << 20, 64 << 20},
	} {
		got, err := TopicConfig{ID: 1, MaxMessageSize: tc.maxMsg}.withDefaults()
		if err != nil || got.SendQueueBytes != tc.want {
			t.Fatalf("MaxMessageSize %d: SendQueueBytes %d (%v), want %d", tc.maxMsg, got.SendQueueBytes, err, tc.want)
		}
	}
}

// ackWithholder is a Transport that passes writes through to an
// EncryptedConn but, while withhold is set, drops every ACK from them: a
// peer that reads everything, answers pings and grants credit, but never
// acknowledges what it read.
type ackWithholder struct {
	*conn.EncryptedConn
	withhold atomic.Bool
	dropped  atomic.Int64
}

func (w *ackWithholder) Write(b []byte) (int, error) {
	if !w.withhold.Load() {
		return w.EncryptedConn.Write(b)
	}
	out := make([]byte, 0, len(b))
	for off := 0; off < len(b); {
		h, err := parsePacketHeader(b[off:])
		if err != nil {
			panic(fmt.Sprintf("writer produced a bad packet: %v", err))
		}
		end := off + headerLen(b[off], b[off+1]) + h.length
		if h.topic == 0 && h.kind == ctrlAck {
			w.dropped.Add(1)
		} else {
			out = append(out, b[off:end]...)
		}
		off = end
	}
	if _, err := w.EncryptedConn.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// TestAckStallTimeout: a peer that consumes everything and answers pings
// but withholds ACKs would hold the in-flight cap shut, and so our queues,
// for ever; it is cut off (goaway "timeout", ErrCreditStall) once an ACK
// interval of data has waited CreditStallTimeout for one — counted from
// when the data went out, not from the last ACK of a quiet connection. The
// same traffic with ACKs flowing keeps the connection open.
func TestAckStallTimeout(t *testing.T) {
	const interval, idle = time.Second, 5 * time.Second
	topics := []TopicConfig{{ID: 1, MaxMessageSize: 64 << 10}}
	for _, withhold := range []bool{true, false} {
		t.Run(fmt.Sprintf("withhold=%v", withhold), func(t *testing.T) {
			clk := clock.NewFake()
			ca, _ := mcConfig(topics)
			ca.Clock, ca.PingInterval, ca.IdleTimeout = clk, interval, idle
			cb, inb := mcConfig(topics)
			cb.PingRate = 1000
			ea, eb := hs.Pair(t, mcSecureConfig(t, 1, topics), mcSecureConfig(t, 2, topics))
			wb := &ackWithholder{EncryptedConn: eb}
			wb.withhold.Store(withhold)
			a, b := mcStart(t, ea, wb, ca, cb)
			pings := 0
			advance := func() {
				clk.Advance(interval)
				pings++
				testutil.Eventually(t, 5*time.Second, fmt.Sprintf("pong %d", pings), func() bool { return a.RTT().Samples == uint64(pings) || a.Err() != nil })
			}
			// Quiet for two stall timeouts first: the clock starts when data does.
			for range 2 * int(idle/interval) {
				advance()
			}
			if err := a.Send(context.Background(), 1, make([]byte, 64<<10)); err != nil {
				t.Fatal(err)
			}
			inb.recv(t, 1, 5*time.Second)
			if withhold {
				testutil.Eventually(t, 5*time.Second, "an ACK withheld", func() bool { return wb.dropped.Load() > 0 })
			} else {
				testutil.Eventually(t, 5*time.Second, "the ACKs", func() bool { return a.Stats().InFlight < ackEvery })
			}
			for i := 1; i < 2*int(idle/interval); i++ {
				advance()
				if err := a.Err(); err != nil {
					if !withhold || i != int(idle/interval) {
						t.Fatalf("closed after %d pings: %v", i, err)
					}
					mcWaitDone(t, b, 5*time.Second)
					if ge := goAwayOf(t, err); ge.Code != GoAwayTimeout || !errors.Is(err, ErrCreditStall) || !strings.HasPrefix(ge.Text, "no ack for 5s") {
						t.Fatalf("a: %v", err)
					}
					return
				}
			}
			if withhold {
				t.Fatalf("a peer withholding ACKs was not cut off: in flight %d", a.Stats().InFlight)
			}
		})
	}
}
