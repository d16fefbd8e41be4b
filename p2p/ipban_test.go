package p2p

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
)

// TestBanIP: BanIP disconnects the connected peers inside the prefix with
// goaway "banned" (and no other), refuses new connections from it and
// dials to it, lists the ban and announces it; UnbanIP lifts it. A ban
// over the cap or of a too broad prefix is an error that changes nothing.
func TestBanIP(t *testing.T) {
	hub := startNode(t, quietConfig(t, 1600))
	sub := hub.Subscribe()
	defer sub.Cancel()
	inside, err := dialRaw(t, hub, testIdentity(t, 1601), "127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	outside, err := dialRaw(t, hub, testIdentity(t, 1602), "127.0.0.9")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "both admitted", func() bool {
		return connectedTo(hub, inside.id.ID()) && connectedTo(hub, outside.id.ID())
	})
	prefix := netip.MustParsePrefix("127.0.0.0/30")
	for _, bad := range []struct {
		p netip.Prefix
		d time.Duration
	}{
		{prefix, MaxBanDuration + time.Hour},
		{prefix, 0},
		{netip.MustParsePrefix("0.0.0.0/0"), time.Hour},
		{netip.MustParsePrefix("::/8"), time.Hour},
		{netip.Prefix{}, time.Hour},
	} {
		if err := hub.BanIP(bad.p, bad.d, "no"); err == nil {
			t.Fatalf("BanIP(%v, %v) succeeded", bad.p, bad.d)
		}
	}
	if len(hub.Bans()) != 0 || !connectedTo(hub, inside.id.ID()) {
		t.Fatalf("a failed BanIP changed something: bans %+v", hub.Bans())
	}
	if err := hub.BanIP(netip.MustParsePrefix("::ffff:127.0.0.1/126"), time.Hour, "sybil farm"); err != nil {
		t.Fatal(err)
	}
	if ge := goAwayOf(t, inside.mc); ge.Code != mux.GoAwayBanned {
		t.Fatalf("goaway %v, want banned", ge)
	}
	e := waitEvent(t, sub, 5*time.Second, "IP ban event", func(e Event) bool { return e.Kind == EventBanned })
	if e.Prefix != prefix || !e.Peer.IsZero() || e.Reason != "sybil farm" {
		t.Fatalf("event %+v", e)
	}
	if bans := hub.Bans(); len(bans) != 1 || bans[0].Prefix != prefix || bans[0].Reason != "sybil farm" {
		t.Fatalf("bans %+v", bans)
	}
	if !connectedTo(hub, outside.id.ID()) {
		t.Fatal("a peer outside the prefix was disconnected")
	}
	if _, err := dialRaw(t, hub, testIdentity(t, 1603), "127.0.0.3"); err == nil {
		t.Fatal("a new connection from inside the prefix got through the handshake")
	}
	if _, err := hub.Dial(context.Background(), fmt.Sprintf("%s@127.0.0.2:1", testIdentity(t, 1604).ID())); !errors.Is(err, ErrBanned) {
		t.Fatalf("dial inside the prefix: %v", err)
	}
	if hub.UnbanIP(netip.MustParsePrefix("127.0.0.2/32")) {
		t.Fatal("UnbanIP lifted a ban it does not name")
	}
	if !hub.UnbanIP(prefix) || hub.UnbanIP(prefix) {
		t.Fatal("UnbanIP")
	}
	again, err := dialRaw(t, hub, testIdentity(t, 1603), "127.0.0.3")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "admitted after the unban", func() bool { return connectedTo(hub, again.id.ID()) })
}

// TestAutomaticIPBan: the IPBanAfter-th identity banned automatically
// from one address within IPBanWindow bans the address; fewer, or spread
// over more than the window, do not; nor does it ever ban an address a
// must-connect peer uses, or when turned off.
func TestAutomaticIPBan(t *testing.T) {
	for i, tc := range []struct {
		name    string
		bans    int
		gapAt   int // advance the clock by 25 h before this ban (0: never)
		must    bool
		after   int
		wantBan bool
	}{
		{name: "three within a day", bans: 3, wantBan: true},
		{name: "two", bans: 2},
		{name: "three over more than a day", bans: 3, gapAt: 2},
		{name: "must-connect address", bans: 3, must: true},
		{name: "turned off", bans: 3, after: -1},
		{name: "two of two", bans: 2, after: 2, wantBan: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake()
			cfg := quietConfig(t, 1700+100*i)
			onFakeClock(&cfg, clk)
			cfg.IPBanAfter = tc.after
			ip := fmt.Sprintf("127.0.1.%d", 10+i)
			if tc.must {
				cfg.MustConnect = []string{fmt.Sprintf("%s@%s:%d", testIdentity(t, 1799+100*i).ID(), ip, closedPort(t))}
			}
			hub := startNode(t, cfg)
			for k := 0; k < tc.bans; k++ {
				if k == tc.gapAt && k > 0 {
					clk.Advance(25 * time.Hour)
				}
				p, err := dialRaw(t, hub, testIdentity(t, 1701+100*i+k), ip)
				if err != nil {
					t.Fatalf("identity %d: %v", k, err)
				}
				testutil.Eventually(t, 5*time.Second, "admitted", func() bool { return connectedTo(hub, p.id.ID()) })
				for m := 0; m < 10; m++ { // -10 each; the default threshold is -100
					if err := p.mc.Send(context.Background(), topicTxs, []byte{0x07, byte(m)}); err != nil {
						t.Fatal(err)
					}
				}
				if ge := goAwayOf(t, p.mc); ge.Code != mux.GoAwayBanned {
					t.Fatalf("identity %d: goaway %v", k, ge)
				}
			}
			want := netip.MustParsePrefix(ip + "/32")
			ipBanned := false
			for _, b := range hub.Bans() {
				if b.Prefix == want {
					ipBanned = true
				} else if b.Prefix.IsValid() {
					t.Fatalf("unexpected IP ban %+v", b)
				}
			}
			if ipBanned != tc.wantBan {
				t.Fatalf("address banned %v, want %v; bans %+v", ipBanned, tc.wantBan, hub.Bans())
			}
			fresh := testIdentity(t, 1790+100*i)
			p, err := dialRaw(t, hub, fresh, ip)
			if tc.wantBan {
				if err == nil {
					t.Fatal("a fresh identity from the banned address got through the handshake")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, 5*time.Second, "fresh identity admitted", func() bool { return connectedTo(hub, p.id.ID()) })
		})
	}
}

// TestIPBanConfig: out-of-range automatic IP ban settings are refused
// with an error naming the field.
func TestIPBanConfig(t *testing.T) {
	for _, tc := range []struct {
		field string
		set   func(*Config)
	}{
		{"IPBanAfter", func(c *Config) { c.IPBanAfter = MaxIPBanAfter + 1 }},
		{"IPBanWindow", func(c *Config) { c.IPBanWindow = -time.Second }},
		{"IPBanWindow", func(c *Config) { c.IPBanWindow = MaxBanDuration + time.Second }},
	} {
		cfg := quietConfig(t, 1650)
		tc.set(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "Config."+tc.field) {
			t.Errorf("%s: error %v does not name Config.%s", tc.field, err, tc.field)
		}
	}
}
