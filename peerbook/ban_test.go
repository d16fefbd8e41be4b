package peerbook

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

func TestBans(t *testing.T) {
	clk := newClock()
	b := newTestBook(t, testConfig(clk))
	a := addrOf(idN(1), "11.1.1.1", 1)
	c := addrOf(idN(2), "12.2.2.2", 1)
	for _, x := range []crypto.Address{a, c} {
		if err := b.Add(x, Source{Kind: SourceManual}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Ban(a.ID, time.Hour, "spam"); err != nil {
		t.Fatal(err)
	}
	if err := b.BanIP(netip.MustParseAddr("::ffff:12.2.2.2"), 2*time.Hour, "flood"); err != nil {
		t.Fatal(err)
	}
	if !b.IsBanned(a.ID) || !b.IsIPBanned(netip.MustParseAddr("12.2.2.2")) || b.IsBanned(c.ID) {
		t.Fatal("ban state")
	}
	if got := b.Pick(10, nil); len(got) != 0 {
		t.Fatalf("picked banned %v", got)
	}
	if e, _ := b.Get(a.ID); e.BanReason != "spam" || e.BanUntil != clk.Now().Add(time.Hour) {
		t.Fatalf("entry ban %v %q", e.BanUntil, e.BanReason)
	}
	if err := b.Add(addrOf(a.ID, "11.1.1.2", 1), Source{Kind: SourceManual}); !errors.Is(err, ErrBanned) {
		t.Fatalf("Add banned: %v", err)
	}
	if err := b.Add(addrOf(idN(3), "12.2.2.2", 2), Source{Kind: SourceManual}); !errors.Is(err, ErrBanned) {
		t.Fatalf("Add on banned IP: %v", err)
	}
	if res := ingest(t, b, addrOf(idN(50), "13.1.1.1", 1), pexResp(addrOf(idN(4), "12.2.2.2", 3))); res.Ignored[IgnoreBanned] != 1 {
		t.Fatalf("ingest banned IP: %+v", res)
	}
	if bans := b.Bans(); len(bans) != 2 {
		t.Fatalf("Bans %v", bans)
	}
	// A shorter ban does not shorten a longer one.
	if err := b.Ban(a.ID, time.Minute, "again"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour - time.Second)
	if !b.IsBanned(a.ID) {
		t.Fatal("ban shortened")
	}
	clk.Advance(time.Second)
	if b.IsBanned(a.ID) {
		t.Fatal("ban did not expire")
	}
	if got := b.Pick(10, nil); len(got) != 1 || got[0] != a {
		t.Fatalf("after ID ban expiry: %v", got)
	}
	if !b.UnbanIP(netip.MustParseAddr("12.2.2.2")) || b.UnbanIP(netip.MustParseAddr("12.2.2.2")) {
		t.Fatal("UnbanIP")
	}
	if got := b.Pick(10, nil); len(got) != 2 {
		t.Fatalf("after unban: %v", got)
	}
	if b.Unban(a.ID) { // expired but still listed until pruned: either answer is fine, but it must not panic
		t.Log("expired ban removed by Unban")
	}
	if len(b.Bans()) != 0 {
		t.Fatal("expired bans listed")
	}
	checkInvariants(t, b)
}

func TestBanValidation(t *testing.T) {
	b := newTestBook(t, testConfig(newClock()))
	for _, d := range []time.Duration{0, -time.Second, MaxBanDuration + 1} {
		if err := b.Ban(idN(1), d, ""); err == nil {
			t.Errorf("Ban(%v) accepted", d)
		}
	}
	if err := b.BanIP(netip.Addr{}, time.Hour, ""); err == nil {
		t.Error("BanIP(invalid) accepted")
	}
	long := string(make([]byte, 1000))
	if err := b.Ban(idN(1), time.Hour, long); err != nil {
		t.Fatal(err)
	}
	if r := b.Bans()[0].Reason; len(r) != maxReasonLen {
		t.Fatalf("reason of %d bytes", len(r))
	}
}

// TestBanLimit: at MaxBans, expired bans go first, then the one ending
// soonest if it ends before the new one.
func TestBanLimit(t *testing.T) {
	clk := newClock()
	b := newTestBook(t, testConfig(clk))
	for i := range MaxBans {
		if err := b.Ban(idN(uint64(i+1)), time.Hour+time.Duration(i)*time.Millisecond, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Ban(idN(1<<40), time.Minute, ""); !errors.Is(err, ErrTooManyBans) {
		t.Fatalf("short ban at the limit: %v", err)
	}
	if err := b.Ban(idN(1<<41), 2*time.Hour, ""); err != nil {
		t.Fatal(err)
	}
	if b.IsBanned(idN(1)) || !b.IsBanned(idN(2)) {
		t.Fatal("wrong ban dropped")
	}
	clk.Advance(3 * time.Hour)
	if err := b.Ban(idN(1<<42), time.Minute, ""); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, b)
}
