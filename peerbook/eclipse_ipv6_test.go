package peerbook

import (
	"math/rand/v2"
	"net/netip"
	"testing"
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
	// The reporters sit in distinct /48s of the attacker's /32.
	return runEclipseScenario(t, attacker, eclipseScenario{
		seed:     6,
		honestIP: randomPublicIPv6,
		sybilIP: func(i int) string {
			a := attacker.Addr().As16()
			a[4], a[5], a[15] = 0x10, byte(i), 1
			return netip.AddrFrom16(a).String()
		},
		attackerIP: func(r *rand.Rand) string { return inPrefix(r, attacker).String() },
	})
}
