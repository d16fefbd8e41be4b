package peerbook

import (
	"net/netip"
	"testing"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

func fillBook(t testing.TB, b *Book, n int) []crypto.Address {
	t.Helper()
	var out []crypto.Address
	for i := 0; len(out) < n; i++ {
		a := addrOf(idN(uint64(i+1)), publicIP(uint32(i)<<16|uint32(i&0xff)), 26656)
		if b.Add(a, Source{Kind: SourceInbound}) == nil {
			out = append(out, a)
		}
	}
	return out
}

func TestPickDistinctAndExclude(t *testing.T) {
	b := newTestBook(t, Config{}, testDeps(newClock()))
	addrs := fillBook(t, b, 200)
	for _, a := range addrs[:50] {
		_ = b.MarkSuccess(a)
	}
	connected := map[crypto.ID]bool{}
	for _, a := range addrs[:100] {
		connected[a.ID] = true
	}
	got := b.Pick(1000, func(id crypto.ID, _ netip.Addr) bool { return connected[id] })
	if len(got) != 100 {
		t.Fatalf("picked %d, want the 100 not excluded", len(got))
	}
	seen := map[crypto.ID]bool{}
	for _, a := range got {
		if seen[a.ID] || connected[a.ID] {
			t.Fatalf("duplicate or excluded pick %v", a)
		}
		seen[a.ID] = true
	}
	if got := b.Pick(0, nil); got != nil {
		t.Fatal("Pick(0)")
	}
	checkInvariants(t, b)
}

func TestPickFilter(t *testing.T) {
	cfg, deps := Config{}, testDeps(newClock())
	deny := map[netip.Addr]bool{}
	deps.Filter = fixedFilter{deny}
	b := newTestBook(t, cfg, deps)
	addrs := fillBook(t, b, 10)
	for _, a := range addrs[:9] {
		ap, _ := a.AddrPort()
		deny[ap.Addr()] = true
	}
	got := b.Pick(10, nil)
	if len(got) != 1 || got[0] != addrs[9] {
		t.Fatalf("picked %v", got)
	}
}

// TestPickBias: the share drawn from the new table follows NewBiasPercent.
func TestPickBias(t *testing.T) {
	for _, bias := range []int{10, 50, 90} {
		cfg, deps := Config{}, testDeps(newClock())
		cfg.NewBiasPercent = bias
		b := newTestBook(t, cfg, deps)
		addrs := fillBook(t, b, 400)
		tried := map[crypto.ID]bool{}
		for _, a := range addrs[:200] {
			_ = b.MarkSuccess(a)
		}
		for _, e := range b.Entries() {
			tried[e.Addr.ID] = e.Tried
		}
		fromNew := 0
		const draws = 4000
		for range draws {
			got := b.Pick(1, nil)
			if !tried[got[0].ID] {
				fromNew++
			}
		}
		share := 100 * fromNew / draws
		if share < bias-5 || share > bias+5 {
			t.Errorf("bias %d%%: %d%% of picks from new", bias, share)
		}
	}
}

func TestAnswerPex(t *testing.T) {
	cfg, deps := Config{}, testDeps(newClock())
	b := newTestBook(t, cfg, deps)
	// 300 entries in 30 groups of 10.
	for i := range 300 {
		a := addrOf(idN(uint64(i+1)), publicIP(uint32(i/10)<<16|uint32(i)), 1)
		_ = b.Add(a, Source{Kind: SourceInbound, Host: publicIP(uint32(i) << 16)}) // a few slot collisions are expected
		_ = b.MarkVerified(a)                                                      // shareable (TestUnverifiedInbound)
	}
	if b.Len() < 250 {
		t.Fatalf("only %d of 300 stored", b.Len())
	}
	requester := idN(5)
	for _, tt := range []struct{ max, want int }{{0, 32}, {10, 10}, {1000, 32}} {
		r := b.AnswerPex(&pb.PexRequest{Max: uint32(tt.max)}, requester)
		if len(r.Addrs) != tt.want {
			t.Fatalf("max %d: %d addresses, want %d", tt.max, len(r.Addrs), tt.want)
		}
		groups := map[string]int{}
		ids := map[string]bool{}
		for _, pa := range r.Addrs {
			ip := netip.MustParseAddr(pa.Host).As4()
			groups[string(ip[:2])]++
			if ids[string(pa.Id)] || string(pa.Id) == string(requester[:]) {
				t.Fatal("duplicate or requester in answer")
			}
			ids[string(pa.Id)] = true
		}
		for g, n := range groups {
			if n > pexPerGroup {
				t.Fatalf("group %v has %d addresses in one answer", []byte(g), n)
			}
		}
	}
	checkInvariants(t, b)
}

// TestAnswerPexOneGroup: with a single group (a loopback testnet) the answer
// still fills up.
func TestAnswerPexOneGroup(t *testing.T) {
	cfg, deps := Config{}, testDeps(newClock())
	cfg.AllowLoopback = true
	b := newTestBook(t, cfg, deps)
	for i := range 20 {
		a := addrOf(idN(uint64(i+1)), "127.0.0.1", uint16(1000+i))
		_ = b.Add(a, Source{Kind: SourceInbound}) // one bucket: some collide
		_ = b.MarkVerified(a)
	}
	if n := b.Len(); n < 10 {
		t.Fatalf("only %d stored", n)
	}
	r := b.AnswerPex(&pb.PexRequest{Max: 10}, crypto.ID{})
	if len(r.Addrs) != 10 {
		t.Fatalf("%d addresses from one group", len(r.Addrs))
	}
}

// TestFillPicks checks the fill decision the node and the simulator share:
// nothing for no free slot, book picks when the book has candidates (and
// then no bootstrap address), and the bootstrap list, less the skipped
// IDs but with ID-less addresses kept, when it has none.
func TestFillPicks(t *testing.T) {
	boot := []crypto.Address{addrOf(idN(100), publicIP(100<<16), 1), addrOf(idN(101), publicIP(101<<16), 1),
		{Host: publicIP(102 << 16), Port: 1}}
	skip := func(id crypto.ID) bool { return id == idN(101) }
	b := newTestBook(t, Config{}, testDeps(newClock()))
	for _, tc := range []struct {
		name     string
		free     int
		wantN    int
		wantBook int
	}{
		{"no free slot", 0, 0, 0},
		{"empty book: bootstrap less skipped", 3, 2, 0},
	} {
		picks, fromBook := b.FillPicks(tc.free, nil, boot, skip)
		if len(picks) != tc.wantN || fromBook != tc.wantBook {
			t.Errorf("%s: %d picks (%d from book), want %d (%d)", tc.name, len(picks), fromBook, tc.wantN, tc.wantBook)
		}
		for _, p := range picks {
			if p.ID == idN(101) {
				t.Errorf("%s: skipped bootstrap %v picked", tc.name, p)
			}
		}
	}
	for i := range 5 {
		if err := b.Add(addrOf(idN(uint64(i+1)), publicIP(uint32(i+1)<<16), 1), Source{Kind: SourceManual}); err != nil {
			t.Fatal(err)
		}
	}
	picks, fromBook := b.FillPicks(3, nil, boot, skip)
	if len(picks) != 3 || fromBook != 3 {
		t.Fatalf("book with 5 entries: %d picks, %d from book, want 3 and 3", len(picks), fromBook)
	}
	for _, p := range picks {
		if p.ID == idN(100) || p.ID.IsZero() {
			t.Errorf("bootstrap %v picked although the book had candidates", p)
		}
	}
	all := func(crypto.ID, netip.Addr) bool { return true }
	if picks, fromBook := b.FillPicks(3, all, boot, nil); len(picks) != 3 || fromBook != 0 {
		t.Errorf("every book entry excluded: %d picks, %d from book; want the 3 bootstrap addresses", len(picks), fromBook)
	}
}
