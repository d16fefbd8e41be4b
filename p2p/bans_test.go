package p2p

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/peerbook"
)

// TestBanSurvivesRestart: a ban is kept in the book, so the node still
// refuses the peer after a restart from its data directory.
func TestBanSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := quietConfig(t, 1400)
	cfg.Identity = nil
	cfg.DataDir = dir
	hub, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	bad := testIdentity(t, 1401)
	if err := hub.Ban(bad.ID(), time.Hour, "kept across restarts"); err != nil {
		t.Fatal(err)
	}
	if err := hub.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	hub = startNode(t, cfg)
	if bans := hub.Bans(); len(bans) != 1 || bans[0].ID != bad.ID() {
		t.Fatalf("bans after restart: %+v", bans)
	}
	p, err := dialRaw(t, hub, bad, "")
	if err != nil {
		t.Fatal(err)
	}
	if ge := goAwayOf(t, p.mc); ge.Code != mux.GoAwayBanned {
		t.Fatalf("goaway %v, want banned", ge)
	}
}

// TestMustConnectExemptFromAutomaticBans: a must-connect peer that sends
// enough malformed messages to ban anyone else keeps its connection (its
// score still shows it); an explicit Ban does apply to it.
func TestMustConnectExemptFromAutomaticBans(t *testing.T) {
	must := testIdentity(t, 1411)
	cfg := quietConfig(t, 1410)
	cfg.MustConnect = []string{fmt.Sprintf("%s@127.0.0.1:%d", must.ID(), closedPort(t))}
	hub := startNode(t, cfg)
	p, err := dialRaw(t, hub, must, "")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "must-connect peer admitted", func() bool { return connectedTo(hub, must.ID()) })
	for i := 0; i < 15; i++ {
		if err := p.mc.Send(context.Background(), topicTxs, []byte{0x07}); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "all malformed messages judged", func() bool { return hub.Stats().Malformed == 15 })
	if s, _ := hub.Score(must.ID()); s > -100 {
		t.Fatalf("score %v: the misbehaviour should be tracked", s)
	}
	if len(hub.Bans()) != 0 || !connectedTo(hub, must.ID()) {
		t.Fatalf("must-connect peer banned automatically: bans %+v, connected %v", hub.Bans(), connectedTo(hub, must.ID()))
	}
	if err := hub.Ban(must.ID(), time.Hour, "operator"); err != nil {
		t.Fatal(err)
	}
	if ge := goAwayOf(t, p.mc); ge.Code != mux.GoAwayBanned {
		t.Fatalf("goaway %v, want banned", ge)
	}
	if p, err := dialRaw(t, hub, must, ""); err != nil {
		t.Fatal(err)
	} else if ge := goAwayOf(t, p.mc); ge.Code != mux.GoAwayBanned {
		t.Fatalf("banned must-connect peer's new connection: goaway %v", ge)
	}
}

// TestBanAllOrNothing: a ban longer than the node's one cap (MaxBanDuration)
// is an error that changes nothing: no ban in the book (nor after a
// restart), the peer still connected. A ban within the cap is persisted
// and disconnects the peer with goaway "banned".
func TestBanAllOrNothing(t *testing.T) {
	if peerbook.MaxBanDuration != MaxBanDuration || (*peerbook.Book)(nil).MaxBanDuration() != MaxBanDuration {
		t.Fatalf("ban caps differ: p2p %v, peerbook %v", MaxBanDuration, peerbook.MaxBanDuration)
	}
	dir := t.TempDir()
	cfg := quietConfig(t, 1420)
	cfg.Identity = nil
	cfg.DataDir = dir
	hub, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { hub.Stop(context.Background()) }()
	bad := testIdentity(t, 1421)
	p, err := dialRaw(t, hub, bad, "")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "peer admitted", func() bool { return connectedTo(hub, bad.ID()) })
	for _, d := range []time.Duration{60 * 24 * time.Hour, MaxBanDuration + time.Second, 0, -time.Hour} {
		if err := hub.Ban(bad.ID(), d, "too long"); err == nil {
			t.Fatalf("Ban(%v) succeeded", d)
		}
		if bans := hub.Bans(); len(bans) != 0 {
			t.Fatalf("Ban(%v) failed but left bans %+v", d, bans)
		}
		if !connectedTo(hub, bad.ID()) {
			t.Fatalf("Ban(%v) failed but disconnected the peer", d)
		}
	}
	if err := hub.Ban(hub.ID(), time.Hour, "self"); err == nil || len(hub.Bans()) != 0 {
		t.Fatalf("banning self: %v, bans %+v", err, hub.Bans())
	}
	// Nothing was persisted either.
	if err := hub.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	hub = startNode(t, cfg)
	if bans := hub.Bans(); len(bans) != 0 {
		t.Fatalf("bans after restart: %+v", bans)
	}
	if ge := goAwayOf(t, p.mc); ge.Code != mux.GoAwayShutdown {
		t.Fatalf("goaway at stop %v", ge)
	}
	p, err = dialRaw(t, hub, bad, "")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "peer admitted again", func() bool { return connectedTo(hub, bad.ID()) })
	if err := hub.Ban(bad.ID(), MaxBanDuration, "within the cap"); err != nil {
		t.Fatal(err)
	}
	if ge := goAwayOf(t, p.mc); ge.Code != mux.GoAwayBanned {
		t.Fatalf("goaway %v, want banned", ge)
	}
	if err := hub.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	hub = startNode(t, cfg)
	if bans := hub.Bans(); len(bans) != 1 || bans[0].ID != bad.ID() {
		t.Fatalf("bans after restart: %+v", bans)
	}
}
