package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
	"github.com/peerwire/peerwire/proto/pb"
)

// TestHealthzDegraded: /healthz, over HTTP on loopback, turns 503
// "degraded" with a no_peers problem after NoPeersWarn of the node's clock
// without peers and with book_not_saving while the book cannot be saved,
// 200 "ok" again once each is over, and 503 not_running after Stop.
func TestHealthzDegraded(t *testing.T) {
	clk := clock.NewFake()
	seed := sha256.Sum256([]byte("httpapi-health"))
	id, err := crypto.IdentityFromSeed(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	a, err := p2p.New(p2p.Config{
		Identity: id, DataDir: dataDir, ListenAddr: "127.0.0.1:0", NetworkID: "httpapi-test",
		Topics:        []p2p.TopicConfig{{TopicConfig: mux.TopicConfig{ID: 1, Name: "consensus", Priority: 10}}},
		Peers:         peerset.Config{MaxOutboundPerGroup: -1},
		Filter:        filter.Config{ExemptLoopback: true},
		Book:          peerbook.Config{AllowLoopback: true},
		ChurnInterval: -1, StatusInterval: -1, FillInterval: time.Hour, PexInterval: time.Hour,
		SaveInterval: 20 * time.Millisecond, NoPeersWarn: time.Minute, Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			a.Stop(context.Background())
		}
	})
	srv := httptest.NewServer(New(a, Options{}))
	defer srv.Close()
	api := client{t: t, base: srv.URL}
	get := func() (int, Health) {
		t.Helper()
		status, _, b := api.do("GET", "/healthz", "")
		var h Health
		if err := json.Unmarshal(b, &h); err != nil {
			t.Fatalf("/healthz body %s: %v", b, err)
		}
		return status, h
	}
	codes := func(h Health) []string {
		var c []string
		for _, p := range h.Problems {
			if p.Message == "" {
				t.Fatalf("problem %q without a message", p.Code)
			}
			c = append(c, p.Code)
		}
		return c
	}
	// tick runs before each look at /healthz; once the book's part is
	// tested it moves the node's clock past SaveInterval, since the book
	// saves on the node's clock.
	tick := func() {}
	wantOK := func(what string) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, what, func() bool {
			tick()
			status, h := get()
			return status == 200 && h.Status == "ok" && h.Problems != nil && len(h.Problems) == 0
		})
	}
	wantDegraded := func(what, code string) Health {
		t.Helper()
		var last Health
		testutil.Eventually(t, 10*time.Second, what, func() bool {
			tick()
			status, h := get()
			last = h
			c := codes(h)
			return status == 503 && h.Status == "degraded" && len(c) == 1 && c[0] == code
		})
		return last
	}

	status, h := get()
	if status != 200 || h.Status != "ok" || h.NoPeersSince == nil || h.ID != a.ID().String() {
		t.Fatalf("just started: %d %+v", status, h)
	}
	clk.Advance(time.Minute)
	wantDegraded("no_peers after a minute alone", p2p.ProblemNoPeers)

	b := startNode(t, 7, pb.NodeRole_NODE_ROLE_FULL)
	if _, err := a.Dial(context.Background(), b.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	wantOK("ok with a peer")
	if _, h := get(); h.NoPeersSince != nil || h.Outbound != 1 {
		t.Fatalf("with a peer: %+v", h)
	}

	tick = func() { clk.Advance(20 * time.Millisecond) }
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	if err := a.Ban(crypto.ID{1}, time.Hour, "a change to save"); err != nil {
		t.Fatal(err)
	}
	h = wantDegraded("book_not_saving", p2p.ProblemBookNotSaving)
	if h.Book.Failures < 1 || h.Book.LastError == "" || h.Book.FailingSince == nil {
		t.Fatalf("book part while failing: %+v", h.Book)
	}
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	wantOK("ok once the book saves")
	if _, h := get(); h.Book.LastSaved == nil || h.Book.Failures != 0 || h.Book.LastError != "" {
		t.Fatalf("book part after recovering: %+v", h.Book)
	}

	stopped = true
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantDegraded("not_running after Stop", p2p.ProblemNotRunning)
}
