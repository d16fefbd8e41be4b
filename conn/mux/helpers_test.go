package mux

import (
	"context"
	"errors"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/internal/conntest"
)

// mcInbox collects delivered messages per topic, as a Node's inbox would. It
// never blocks the reader: each topic's channel is sized from the topic's
// credit window, which bounds how many undone messages a peer can make us
// hold; overflowing it would mean flow control failed, and is recorded.
type mcInbox struct {
	ch       map[uint8]chan *Message
	overflow atomic.Int64
}

func newMCInbox(topics []TopicConfig) *mcInbox {
	in := &mcInbox{ch: map[uint8]chan *Message{}}
	for _, tc := range topics {
		tc, err := tc.withDefaults()
		if err != nil {
			panic(err)
		}
		in.ch[tc.ID] = make(chan *Message, min(tc.RecvWindow/MessageCreditOverhead+1, 1<<17))
	}
	return in
}

func (in *mcInbox) onMessage(m *Message) {
	select {
	case in.ch[m.Topic] <- m:
	default:
		in.overflow.Add(1)
	}
}

// recv returns the next message of topic, already Done.
func (in *mcInbox) recv(t testing.TB, topic uint8, timeout time.Duration) *Message {
	t.Helper()
	m := in.recvHeld(t, topic, timeout)
	m.Done()
	return m
}

// recvHeld returns the next message of topic without calling Done.
func (in *mcInbox) recvHeld(t testing.TB, topic uint8, timeout time.Duration) *Message {
	t.Helper()
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	select {
	case m := <-in.ch[topic]:
		return m
	case <-tm.C:
		t.Fatalf("no message on topic %d within %v", topic, timeout)
		return nil
	}
}

// mcTestTopics are the topics most tests use: a high-priority vote topic, a
// low-priority block topic and a mid-priority transaction topic.
func mcTestTopics() []TopicConfig {
	return []TopicConfig{
		{ID: 1, Name: "votes", Priority: 10, MaxMessageSize: 64 << 10},
		{ID: 2, Name: "blocks", Priority: 1, MaxMessageSize: 4 << 20},
		{ID: 3, Name: "txs", Priority: 5, MaxMessageSize: 1 << 20},
	}
}

// mcConfig returns a Config over topics delivering into a new inbox.
func mcConfig(topics []TopicConfig) (*Config, *mcInbox) {
	in := newMCInbox(topics)
	return &Config{Topics: topics, OnMessage: in.onMessage, CloseTimeout: 5 * time.Second}, in
}

// mcSecureConfig returns a SecureConfig for identity seed b declaring topics.
func mcSecureConfig(t testing.TB, b byte, topics []TopicConfig) *conn.SecureConfig {
	sc := testSecureConfig(t, b)
	sc.Meta.Topics = TopicIDs(topics)
	return sc
}

// mcPair returns two MultiConns over EncryptedConns on loopback TCP: a dialed
// b. Both are aborted and waited for when the test ends.
func mcPair(t testing.TB, ca, cb *Config) (a, b *MultiConn) {
	t.Helper()
	ea, eb := hs.Pair(t, mcSecureConfig(t, 1, ca.Topics), mcSecureConfig(t, 2, cb.Topics))
	return mcStart(t, ea, eb, ca, cb)
}

// mcStart runs New on both transports at once (each side writes
// its SETTINGS before reading the other's).
func mcStart(t testing.TB, ta, tb Transport, ca, cb *Config) (a, b *MultiConn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ra, rb := conntest.Both(
		func() (*MultiConn, error) { return newStarted(ctx, ta, ca) },
		func() (*MultiConn, error) { return newStarted(ctx, tb, cb) })
	a, b = ra.Conn, rb.Conn
	if ra.Err != nil || rb.Err != nil {
		for _, c := range []*MultiConn{a, b} {
			if c != nil {
				c.Abort(GoAwayInternal, "test setup failed")
				<-c.Done()
			}
		}
		t.Fatalf("New: %v / %v", ra.Err, rb.Err)
	}
	t.Cleanup(func() {
		a.Abort(GoAwayShutdown, "test over")
		b.Abort(GoAwayShutdown, "test over")
		mcWaitDone(t, a, 10*time.Second)
		mcWaitDone(t, b, 10*time.Second)
	})
	return a, b
}

func mcWaitDone(t testing.TB, c *MultiConn, timeout time.Duration) {
	t.Helper()
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	select {
	case <-c.Done():
	case <-tm.C:
		t.Fatalf("connection to %s did not end within %v", c.RemoteID().Short(), timeout)
	}
}

// goAwayOf returns the *GoAwayError in err, or fails.
func goAwayOf(t testing.TB, err error) *GoAwayError {
	t.Helper()
	var ge *GoAwayError
	if !errors.As(err, &ge) {
		t.Fatalf("error %v is not a goaway", err)
	}
	return ge
}

// percentile returns the p-th percentile of ds (sorted in place).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	i := int(float64(len(ds)-1) * p)
	return ds[i]
}

// hs is conn's handshake for the shared test helpers: hs.Run on two raw
// connections, hs.Pair over a fresh loopback TCP connection.
var hs = conntest.Handshaker[*conn.SecureConfig, *conn.EncryptedConn]{Client: conn.Client, Server: conn.Server}

// testSecureConfig returns the tests' handshake configuration for the
// identity of seed b.
func testSecureConfig(t testing.TB, b byte) *conn.SecureConfig {
	return &conn.SecureConfig{Identity: conntest.Identity(t, b), NetworkID: conntest.NetworkID, ChainID: conntest.ChainID, Meta: conntest.Meta()}
}

// newStarted builds a MultiConn with New and starts it at once, as an
// owner that admits every connection would.
func newStarted(ctx context.Context, t Transport, cfg *Config) (*MultiConn, error) {
	c, err := New(ctx, t, cfg)
	if err == nil {
		c.Start()
	}
	return c, err
}
