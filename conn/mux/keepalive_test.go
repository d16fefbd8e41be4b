package mux

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/conntest"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
)

// blackholeProxy forwards TCP bytes between a client and a server until
// blackhole is called; from then on it neither reads nor writes, but keeps
// both sockets open, as a peer that vanished behind a NAT or a dead link.
type blackholeProxy struct {
	holed   [2]atomic.Bool // [0]: client to server, [1]: server to client
	stop    chan struct{}
	wg      sync.WaitGroup
	sockets []net.Conn
}

// proxyPair returns a client end and a server end connected through a
// blackholeProxy on loopback TCP.
func proxyPair(t *testing.T) (client, server net.Conn, p *blackholeProxy) {
	t.Helper()
	toServer, server := conntest.TCPPair(t)
	client, fromClient := conntest.TCPPair(t)
	p = &blackholeProxy{stop: make(chan struct{}), sockets: []net.Conn{toServer, fromClient}}
	p.wg.Add(2)
	go p.pipe(toServer, fromClient, &p.holed[0])
	go p.pipe(fromClient, toServer, &p.holed[1])
	t.Cleanup(func() {
		close(p.stop)
		for _, s := range p.sockets {
			s.Close()
		}
		p.wg.Wait()
		client.Close()
		server.Close()
	})
	return client, server, p
}

func (p *blackholeProxy) pipe(dst, src net.Conn, holed *atomic.Bool) {
	defer p.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if holed.Load() {
			<-p.stop
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// blackhole stops both directions; blackholeToServer only the client's.
func (p *blackholeProxy) blackhole()         { p.holed[0].Store(true); p.holed[1].Store(true) }
func (p *blackholeProxy) blackholeToServer() { p.holed[0].Store(true) }

// TestMultiConnDeadPeer: a peer that stops reading and writing at the TCP
// level is detected within the idle timeout, on both sides.
func TestMultiConnDeadPeer(t *testing.T) {
	const idle = 300 * time.Millisecond
	ca, _ := mcConfig(mcTestTopics())
	cb, _ := mcConfig(mcTestTopics())
	for _, c := range []*Config{ca, cb} {
		c.PingInterval, c.IdleTimeout = 100*time.Millisecond, idle
	}
	rawC, rawS, proxy := proxyPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ec, es := hs.Run(ctx, rawC, rawS, mcSecureConfig(t, 1, ca.Topics), mcSecureConfig(t, 2, cb.Topics), crypto.ID{})
	if ec.Err != nil || es.Err != nil {
		t.Fatal(ec.Err, es.Err)
	}
	a, b := mcStart(t, ec.Conn, es.Conn, ca, cb)
	if err := a.Send(ctx, 1, []byte("before")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	proxy.blackhole()
	for _, c := range []*MultiConn{a, b} {
		mcWaitDone(t, c, 5*idle)
		elapsed := time.Since(start)
		if !errors.Is(c.Err(), ErrIdleTimeout) {
			t.Fatalf("err %v, want ErrIdleTimeout", c.Err())
		}
		if ge := goAwayOf(t, c.Err()); ge.Code != GoAwayTimeout || ge.Remote {
			t.Fatalf("goaway %+v", ge)
		}
		// The timer fires at the last inbound byte + idle; allow scheduling slack.
		if elapsed > idle+200*time.Millisecond {
			t.Fatalf("dead peer detected after %v, idle timeout %v", elapsed, idle)
		}
		t.Logf("detected after %v", elapsed)
	}
}

// TestMultiConnOneWayDeadPath: when only the client's direction dies, the
// client still hears the server's pings but gets no pongs, and gives up
// within the idle timeout of its first unanswered ping (at most one ping
// interval after the cut), although inbound traffic never stopped.
func TestMultiConnOneWayDeadPath(t *testing.T) {
	const idle, interval = 300 * time.Millisecond, 50 * time.Millisecond
	ca, _ := mcConfig(mcTestTopics())
	cb, _ := mcConfig(mcTestTopics())
	ca.PingInterval, ca.IdleTimeout, ca.PingRate = interval, idle, 100
	cb.PingInterval, cb.IdleTimeout, cb.PingRate = interval, 20*idle, 100 // the server waits longer
	rawC, rawS, proxy := proxyPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ec, es := hs.Run(ctx, rawC, rawS, mcSecureConfig(t, 1, ca.Topics), mcSecureConfig(t, 2, cb.Topics), crypto.ID{})
	if ec.Err != nil || es.Err != nil {
		t.Fatal(ec.Err, es.Err)
	}
	a, _ := mcStart(t, ec.Conn, es.Conn, ca, cb)
	start := time.Now()
	proxy.blackholeToServer()
	mcWaitDone(t, a, 5*idle)
	elapsed := time.Since(start)
	ge := goAwayOf(t, a.Err())
	if ge.Code != GoAwayTimeout || ge.Remote || !strings.HasPrefix(ge.Text, "no pong for") {
		t.Fatalf("err %v, want our own pong timeout", a.Err())
	}
	if elapsed > idle+interval+200*time.Millisecond {
		t.Fatalf("one-way dead path detected after %v", elapsed)
	}
	t.Logf("%v after %v", a.Err(), elapsed)
}

// TestKeepaliveFakeClock drives pings and the idle check with a manual
// clock: a ping goes out each interval and its pong is measured; once the
// path goes dark, the connection ends exactly when the idle timeout expires.
func TestKeepaliveFakeClock(t *testing.T) {
	clk := clock.NewFake()
	ca, _ := mcConfig(mcTestTopics())
	ca.Clock, ca.PingInterval, ca.IdleTimeout = clk, time.Second, 5*time.Second
	cb, _ := mcConfig(mcTestTopics()) // real clock, default (long) timers
	rawC, rawS, proxy := proxyPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ec, es := hs.Run(ctx, rawC, rawS, mcSecureConfig(t, 1, ca.Topics), mcSecureConfig(t, 2, cb.Topics), crypto.ID{})
	if ec.Err != nil || es.Err != nil {
		t.Fatal(ec.Err, es.Err)
	}
	a, b := mcStart(t, ec.Conn, es.Conn, ca, cb)
	for i := range 3 {
		clk.Advance(time.Second)
		testutil.Eventually(t, 5*time.Second, "the pong", func() bool { return a.RTT().Samples == uint64(i+1) })
	}
	if a.Err() != nil || b.Stats().PingsRecv != 3 || a.Stats().PingsSent != 3 {
		t.Fatalf("after 3 intervals: err %v, pings sent %d received %d", a.Err(), a.Stats().PingsSent, b.Stats().PingsRecv)
	}
	proxy.blackhole()
	clk.Advance(5*time.Second - time.Millisecond)
	select {
	case <-a.Done():
		t.Fatalf("ended before the idle timeout: %v", a.Err())
	default:
	}
	clk.Advance(time.Millisecond)
	mcWaitDone(t, a, 5*time.Second)
	if ge := goAwayOf(t, a.Err()); ge.Code != GoAwayTimeout || !errors.Is(a.Err(), ErrIdleTimeout) || ge.Text != "nothing received for 5s" {
		t.Fatalf("a: %v", a.Err())
	}
}

// TestGoAwayReasonArrives: each goaway code and its text reach the peer.
func TestGoAwayReasonArrives(t *testing.T) {
	for _, tc := range []struct {
		code GoAwayCode
		text string
		name string
	}{
		{GoAwayShutdown, "", "shutdown"},
		{GoAwayTooManyPeers, "100/100 inbound", "too many peers"},
		{GoAwayBanned, "banned until 2030 for spam", "banned"},
		{GoAwayDuplicate, "kept the outbound connection", "duplicate connection"},
		{GoAwayCode(200), "from the future", "code 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca, _ := mcConfig(mcTestTopics())
			cb, _ := mcConfig(mcTestTopics())
			var closed atomic.Pointer[error]
			cb.OnClose = func(c *MultiConn, err error) { closed.Store(&err) }
			a, b := mcPair(t, ca, cb)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := a.GoAway(ctx, tc.code, tc.text); err != nil {
				t.Fatal(err)
			}
			mcWaitDone(t, b, 5*time.Second)
			ge := goAwayOf(t, b.Err())
			if !ge.Remote || ge.Code != tc.code || ge.Text != tc.text || ge.Code.String() != tc.name {
				t.Fatalf("peer saw %+v (%s)", ge, ge.Code)
			}
			if got := b.RemoteGoAway(); got != ge {
				t.Fatalf("RemoteGoAway %+v", got)
			}
			// OnClose runs after Done is closed (MultiConn.exited): wait for it.
			testutil.Eventually(t, 5*time.Second, "OnClose", func() bool { return closed.Load() != nil })
			if p := closed.Load(); *p != b.Err() {
				t.Fatal("OnClose not called with Err")
			}
			if local := goAwayOf(t, a.Err()); local.Remote || local.Code != tc.code {
				t.Fatalf("local err %+v", local)
			}
			if err := a.Send(ctx, 1, nil); !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
				t.Fatalf("send after close: %v", err)
			}
			if err := b.TrySend(1, nil); !errors.Is(err, ErrClosed) {
				t.Fatalf("send after remote goaway: %v", err)
			}
		})
	}
}

// TestGracefulCloseDeliversQueued: messages queued before Close all arrive,
// then the goaway; Abort drops what is queued and says how much.
func TestGracefulCloseDeliversQueued(t *testing.T) {
	const n = 500
	topics := []TopicConfig{{ID: 1, MaxMessageSize: 1 << 10, RecvWindow: 8 << 10, SendQueue: n}}
	ca, _ := mcConfig(topics)
	cb, inb := mcConfig(topics)
	a, b := mcPair(t, ca, cb)
	for i := range n {
		if err := a.TrySend(1, []byte{byte(i), byte(i >> 8)}); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	for i := range n {
		m := inb.recv(t, 1, 5*time.Second)
		if int(m.Data[0])|int(m.Data[1])<<8 != i {
			t.Fatalf("message %d out of order", i)
		}
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	mcWaitDone(t, b, 5*time.Second)
	if ge := goAwayOf(t, b.Err()); ge.Code != GoAwayShutdown || !ge.Remote {
		t.Fatalf("peer saw %v", b.Err())
	}
	if st := a.Stats(); st.Unsent != 0 || st.Topics[0].MsgsSent != n {
		t.Fatalf("stats after graceful close: %+v", st)
	}
}

func TestAbortDropsQueued(t *testing.T) {
	const n = 500
	topics := []TopicConfig{{ID: 1, MaxMessageSize: 1 << 10, RecvWindow: 8 << 10, SendQueue: n}}
	ca, _ := mcConfig(topics)
	cb, inb := mcConfig(topics)
	a, b := mcPair(t, ca, cb)
	for range n {
		if err := a.TrySend(1, make([]byte, 1<<10)); err != nil {
			t.Fatal(err)
		}
	}
	// b consumes nothing, so the window (7 messages) stops the flow.
	testutil.Eventually(t, 5*time.Second, "the window to fill", func() bool { return a.Stats().Topics[0].CreditStalls > 0 })
	a.Abort(GoAwayBanned, "misbehaving")
	mcWaitDone(t, a, 5*time.Second)
	mcWaitDone(t, b, 5*time.Second)
	got := len(inb.ch[1])
	if got >= n || a.Stats().Unsent != uint64(n-got) {
		t.Fatalf("received %d, unsent %d of %d", got, a.Stats().Unsent, n)
	}
	if ge := goAwayOf(t, b.Err()); ge.Code != GoAwayBanned || ge.Text != "misbehaving" {
		t.Fatalf("peer saw %v", b.Err())
	}
}

// TestGracefulCloseTimeout: a peer that never grants credit cannot hold a
// graceful close beyond its context; the goaway still goes out.
func TestGracefulCloseTimeout(t *testing.T) {
	topics := []TopicConfig{{ID: 1, MaxMessageSize: 1 << 10, RecvWindow: 2 << 10, SendQueue: 100}}
	ca, _ := mcConfig(topics)
	cb, _ := mcConfig(topics)
	a, b := mcPair(t, ca, cb)
	for range 10 {
		if err := a.TrySend(1, make([]byte, 1<<10)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := a.GoAway(ctx, GoAwayTrimmed, "low score")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GoAway: %v", err)
	}
	mcWaitDone(t, b, 5*time.Second)
	if ge := goAwayOf(t, b.Err()); ge.Code != GoAwayTrimmed {
		t.Fatalf("peer saw %v", b.Err())
	}
}
