package peerbook

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/peerwire/peerwire/crypto"
)

// Eclipse resistance over IPv6, as TestEclipseResistance over IPv4: 3,000
// honest addresses in random /32s, reported by 100 honest peers, 300 of them
// tried; then an attacker holding one /32 — its 8 reporting peers in
// distinct /48s of it, its 10,000 advertised addresses spread over random
// /48s and /64s of it — reports them in solicited responses of 32.
//
// The /32 is one network group and one source group, so the attack lands
// in a single new bucket: at most BucketSize entries. Grouping IPv6 by /64
// or /128 instead makes each reporter its own source group and spreads the
// addresses over hundreds of buckets, past the bound.
func TestEclipseResistanceIPv6(t *testing.T) {
	attacker := netip.MustParsePrefix("2a0b:4e07::/32")
	bookShare, pickShare := runEclipseIPv6(t, attacker)
	t.Logf("one /32: attacker holds %.2f%% of the book and %.2f%% of 1000 picks (bound %.0f%%)",
		100*bookShare, 100*pickShare, 100*eclipseMaxShare)
	if bookShare > eclipseMaxShare || pickShare > eclipseMaxShare {
		t.Fatalf("attacker share too high: book %.2f%%, picks %.2f%%", 100*bookShare, 100*pickShare)
	}
}

// randomPublicIPv6 returns a global unicast IPv6 address in 2400::/6 –
// 2fff::/16, away from the special ranges, with random low bits.
func randomPublicIPv6(r *rand.Rand) string {
	var a [16]byte
	a[0], a[1] = byte(0x24+r.IntN(12)), byte(r.IntN(256))
	for i := 2; i < 16; i++ {
		a[i] = byte(r.IntN(256))
	}
	if a[15] == 0 {
		a[15] = 1
	}
	return netip.AddrFrom16(a).String()
}

// inPrefix returns an address of the IPv6 prefix p whose bits past the
// prefix are random.
func inPrefix(r *rand.Rand, p netip.Prefix) netip.Addr {
	a := p.Addr().As16()
	for bit := p.Bits(); bit < 128; bit++ {
		if r.IntN(2) == 1 {
			a[bit/8] |= 0x80 >> (bit % 8)
		}
	}
	if a[15] == 0 {
		a[15] = 1
	}
	return netip.AddrFrom16(a)
}

func runEclipseIPv6(t *testing.T, attacker netip.Prefix) (bookShare, pickShare float64) {
	clk := newClock()
	b := newTestBook(t, Config{}, testDeps(clk))
	r := rand.New(rand.NewPCG(42, 6))
	next := uint64(1)
	newID := func() crypto.ID { next++; return idN(next) }

	var honest []crypto.Address
	for len(honest) < eclipseHonest {
		reporter := addrOf(newID(), randomPublicIPv6(r), 26656)
		var batch []crypto.Address
		for range 30 {
			ip := randomPublicIPv6(r)
			if attacker.Contains(netip.MustParseAddr(ip)) {
				continue
			}
			batch = append(batch, addrOf(newID(), ip, 26656))
		}
		ingest(t, b, reporter, pexResp(batch...))
		for _, a := range batch {
			if _, ok := b.Get(a.ID); ok {
				honest = append(honest, a)
			}
		}
	}
	for _, a := range honest[:eclipseHonestTried] {
		if err := b.MarkSuccess(a.ID); err != nil {
			t.Fatal(err)
		}
	}
	honestBefore := b.Len()

	// The reporters sit in distinct /48s of the attacker's /32.
	var sybils []crypto.Address
	for i := range 8 {
		a := attacker.Addr().As16()
		a[4], a[5], a[15] = 0x10, byte(i), 1
		sybils = append(sybils, addrOf(newID(), netip.AddrFrom16(a).String(), 26656))
	}
	isAttacker := map[crypto.ID]bool{}
	added := 0
	for sent := 0; sent < eclipseAttack; {
		var batch []crypto.Address
		for ; len(batch) < DefaultMaxPexAddrs && sent < eclipseAttack; sent++ {
			a := addrOf(newID(), inPrefix(r, attacker).String(), uint16(1024+r.IntN(60000)))
			isAttacker[a.ID] = true
			batch = append(batch, a)
		}
		added += ingest(t, b, sybils[sent%len(sybils)], pexResp(batch...)).Added
	}
	checkInvariants(t, b)

	inBook, honestLeft := 0, 0
	for _, e := range b.Entries() {
		if isAttacker[e.Addr.ID] {
			inBook++
		} else {
			honestLeft++
		}
	}
	if honestLeft != honestBefore {
		t.Errorf("attacker evicted %d honest entries", honestBefore-honestLeft)
	}
	attackerPicks := 0
	const picks = 1000
	for range picks {
		got := b.Pick(1, nil)
		if len(got) != 1 {
			t.Fatal("no pick")
		}
		if isAttacker[got[0].ID] {
			attackerPicks++
		}
	}
	t.Logf("attacker: %d of %d reported addresses stored (%d accepted by ingest); book %d entries, %d honest",
		inBook, eclipseAttack, added, b.Len(), honestLeft)
	return float64(inBook) / float64(b.Len()), float64(attackerPicks) / float64(picks)
}
