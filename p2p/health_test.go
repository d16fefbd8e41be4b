package p2p

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
)

// logRecorder is a slog.Handler that keeps every record, with the
// attributes of the logger it came through, for tests to look at.
type logRecorder struct {
	mu    *sync.Mutex
	recs  *[]logLine
	attrs []slog.Attr
}

// logLine is one record: its level, message and attributes as text.
type logLine struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func newLogRecorder() *logRecorder {
	return &logRecorder{mu: &sync.Mutex{}, recs: &[]logLine{}}
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l := logLine{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		l.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		l.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	*h.recs = append(*h.recs, l)
	h.mu.Unlock()
	return nil
}

func (h *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &logRecorder{mu: h.mu, recs: h.recs, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *logRecorder) WithGroup(string) slog.Handler { return h }

// lines returns the records at level with message msg.
func (h *logRecorder) lines(level slog.Level, msg string) []logLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logLine
	for _, l := range *h.recs {
		if l.level == level && l.msg == msg {
			out = append(out, l)
		}
	}
	return out
}

// all returns every record.
func (h *logRecorder) all() []logLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]logLine(nil), *h.recs...)
}

// wantFields fails unless l has each field with the value given ("*": any
// non-empty value).
func wantFields(t *testing.T, l logLine, fields map[string]string) {
	t.Helper()
	for k, v := range fields {
		got, ok := l.attrs[k]
		if !ok || got == "" || (v != "*" && got != v) {
			t.Errorf("%s %q: field %s = %q, want %q (all: %v)", l.level, l.msg, k, got, v, l.attrs)
		}
	}
}

// TestPeerConnectDisconnectLogged: connects and disconnects are INFO
// lines with the full ID, the address, the direction and, for a goaway,
// its code, its text and who sent it; every line names its component.
func TestPeerConnectDisconnectLogged(t *testing.T) {
	rec := newLogRecorder()
	cfgA := quietConfig(t, 1)
	cfgA.Logger = slog.New(rec)
	a := startNode(t, cfgA)
	b := startNode(t, quietConfig(t, 2))
	dial(t, a, b)
	testutil.Eventually(t, 5*time.Second, "the connect line", func() bool {
		return len(rec.lines(slog.LevelInfo, "peer connected")) == 1
	})
	wantFields(t, rec.lines(slog.LevelInfo, "peer connected")[0], map[string]string{
		"component": "p2p", "peer": b.ID().String(), "remote": b.ListenAddr().HostPort(), "dir": "outbound", "role": "*",
	})
	testutil.Eventually(t, 5*time.Second, "b to see a", func() bool { return connectedTo(b, a.ID()) })
	if err := b.Disconnect(a.ID(), "maintenance"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the disconnect line", func() bool {
		return len(rec.lines(slog.LevelInfo, "peer disconnected")) == 1
	})
	wantFields(t, rec.lines(slog.LevelInfo, "peer disconnected")[0], map[string]string{
		"component": "p2p", "peer": b.ID().String(), "remote": b.ListenAddr().HostPort(), "dir": "outbound",
		"goaway": "*", "goaway_by": "peer", "goaway_text": "maintenance", "connected_for": "*",
	})
	for _, l := range rec.all() {
		if l.attrs["component"] == "" {
			t.Errorf("%s %q has no component", l.level, l.msg)
		}
	}
}

// TestBootstrapDialWarnRateLimited: a bootstrap peer that answers with
// another identity is a WARN with the reason, at most one per address per
// dialWarnEvery of the node's clock; the failures in between are DEBUG
// and counted in the next WARN.
func TestBootstrapDialWarnRateLimited(t *testing.T) {
	other := startNode(t, quietConfig(t, 2))
	wrong := testIdentity(t, 3).ID() // not who listens there
	clk := clock.NewFake()
	rec := newLogRecorder()
	cfg := testConfig(t, 1)
	onFakeClock(&cfg, clk)
	cfg.Logger = slog.New(rec)
	cfg.Bootstrap = []string{crypto.Address{ID: wrong, Host: other.ListenAddr().Host, Port: other.ListenAddr().Port}.String()}
	startNode(t, cfg)

	const msg = "bootstrap dial failed"
	testutil.Eventually(t, 10*time.Second, "two suppressed failures", func() bool {
		return len(rec.lines(slog.LevelDebug, msg)) >= 2
	})
	warns := rec.lines(slog.LevelWarn, msg)
	if len(warns) != 1 {
		t.Fatalf("%d WARN lines before the clock moved, want 1", len(warns))
	}
	wantFields(t, warns[0], map[string]string{"component": "p2p", "addr": cfg.Bootstrap[0]})
	if want := "expected peer " + wrong.String() + ", got " + other.ID().String(); !strings.Contains(warns[0].attrs["err"], want) {
		t.Fatalf("WARN err = %q, want it to say %q", warns[0].attrs["err"], want)
	}
	clk.Advance(dialWarnEvery)
	testutil.Eventually(t, 10*time.Second, "the second WARN", func() bool {
		return len(rec.lines(slog.LevelWarn, msg)) == 2
	})
	second := rec.lines(slog.LevelWarn, msg)[1]
	if second.attrs["failures_since_last_warning"] == "" || second.attrs["failures_since_last_warning"] == "0" {
		t.Fatalf("second WARN does not count the failures between: %v", second.attrs)
	}
}

// TestMustConnectDialWarn: a must-connect peer that cannot be reached is
// a WARN with the reason.
func TestMustConnectDialWarn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close() // nothing listens there now: connection refused
	rec := newLogRecorder()
	cfg := testConfig(t, 1)
	cfg.Logger = slog.New(rec)
	must := crypto.Address{ID: testIdentity(t, 2).ID(), Host: "127.0.0.1", Port: uint16(addr.Port)}.String()
	cfg.MustConnect = []string{must}
	startNode(t, cfg)
	testutil.Eventually(t, 10*time.Second, "the must-connect WARN", func() bool {
		return len(rec.lines(slog.LevelWarn, "must-connect dial failed")) >= 1
	})
	l := rec.lines(slog.LevelWarn, "must-connect dial failed")[0]
	wantFields(t, l, map[string]string{"component": "p2p", "addr": must})
	if !strings.Contains(l.attrs["err"], "refused") {
		t.Fatalf("err = %q, want the refusal", l.attrs["err"])
	}
}

// TestNoPeersWarnAndHealth: a node without peers for NoPeersWarn (of its
// clock) logs a WARN and reports ProblemNoPeers; a peer clears both, and
// losing it starts the clock again.
func TestNoPeersWarnAndHealth(t *testing.T) {
	clk := clock.NewFake()
	rec := newLogRecorder()
	cfg := quietConfig(t, 1)
	onFakeClock(&cfg, clk)
	cfg.Logger = slog.New(rec)
	cfg.NoPeersWarn = time.Minute
	cfg.healthEvery = 10 * time.Millisecond
	a := startNode(t, cfg)

	if h := a.Health(); h.Degraded() || h.NoPeersSince.IsZero() || h.Peers != 0 {
		t.Fatalf("just started: %+v", h)
	}
	clk.Advance(time.Minute - time.Second)
	if h := a.Health(); h.Degraded() {
		t.Fatalf("59 s without peers: degraded already: %+v", h)
	}
	clk.Advance(time.Second)
	h := a.Health()
	if len(h.Problems) != 1 || h.Problems[0].Code != ProblemNoPeers || !strings.Contains(h.Problems[0].Message, "no peers for 1m0s") {
		t.Fatalf("a minute without peers: %+v", h)
	}
	testutil.Eventually(t, 5*time.Second, "the no-peers WARN", func() bool {
		return len(rec.lines(slog.LevelWarn, "no peers")) == 1
	})
	wantFields(t, rec.lines(slog.LevelWarn, "no peers")[0], map[string]string{"component": "p2p", "for": "1m0s"})

	b := startNode(t, quietConfig(t, 2))
	dial(t, a, b)
	testutil.Eventually(t, 5*time.Second, "healthy with a peer", func() bool {
		h := a.Health()
		return !h.Degraded() && h.NoPeersSince.IsZero() && h.Peers == 1
	})
	clk.Advance(time.Hour) // with a peer, time without one does not count
	if h := a.Health(); h.Degraded() {
		t.Fatalf("with a peer: %+v", h)
	}
	// b stops rather than being disconnected: the hour also fired a's
	// fill (FillInterval is an hour here), which, running late on a
	// loaded machine, can dial b again right after a Disconnect, and the
	// peer is back before "the peer gone" is seen; the test failed so
	// about once in 30 loaded runs.
	if err := b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the peer gone", func() bool { return !a.Health().NoPeersSince.IsZero() })
	if h := a.Health(); h.Degraded() {
		t.Fatalf("just lost the last peer: %+v", h)
	}
	clk.Advance(time.Minute)
	testutil.Eventually(t, 5*time.Second, "a second no-peers WARN", func() bool {
		return len(rec.lines(slog.LevelWarn, "no peers")) == 2
	})
	if !a.Health().Degraded() {
		t.Fatal("a minute after losing the last peer: not degraded")
	}
}

// TestHealthBookNotSaving: a peer book that fails to save is a WARN of
// component book and ProblemBookNotSaving, until a save succeeds.
func TestHealthBookNotSaving(t *testing.T) {
	rec := newLogRecorder()
	cfg := quietConfig(t, 1)
	cfg.Identity = nil
	cfg.DataDir = t.TempDir() + "/data"
	cfg.SaveInterval = 20 * time.Millisecond
	cfg.Logger = slog.New(rec)
	a := startNode(t, cfg)
	if h := a.Health(); h.Degraded() {
		t.Fatalf("just started: %+v", h)
	}
	if err := os.RemoveAll(cfg.DataDir); err != nil {
		t.Fatal(err)
	}
	if err := a.Ban(testIdentity(t, 5).ID(), time.Hour, "test"); err != nil { // a change to save
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "book_not_saving", func() bool {
		h := a.Health()
		return len(h.Problems) == 1 && h.Problems[0].Code == ProblemBookNotSaving
	})
	testutil.Eventually(t, 5*time.Second, "the save WARN", func() bool {
		return len(rec.lines(slog.LevelWarn, "peerbook: save failed")) >= 1
	})
	wantFields(t, rec.lines(slog.LevelWarn, "peerbook: save failed")[0], map[string]string{"component": "book", "error": "*"})
	if err := os.Mkdir(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "healthy again", func() bool { return !a.Health().Degraded() })
}
