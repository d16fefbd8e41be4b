package dht

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

var t0 = time.Unix(1700000000, 0)

// fakeRec returns a record with a random ID in self's bucket i (the table
// does not check signatures: the DHT verifies before it adds).
func fakeRec(self crypto.ID, i int) *Record {
	return &Record{ID: RandomIDInBucket(self, i), Roles: RoleServer}
}

func ip4(a, b, c, d byte) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{a, b, c, d}), 4000)
}

// TestTableDiversity checks each diversity bound: what passes it is
// refused, what stays inside it (or inside an exempt prefix) is taken.
func TestTableDiversity(t *testing.T) {
	self := crypto.ID{0x55}
	cases := []struct {
		name  string
		lim   Limits
		addrs func(k int) (bucket int, ap netip.AddrPort)
		n     int // additions
		want  int // entries expected
	}{
		{"2 per /24 per bucket", DefaultLimits(), func(k int) (int, netip.AddrPort) { return 3, ip4(1, 2, 3, byte(k)) }, 5, 2},
		{"10 per /24 per table", DefaultLimits(), func(k int) (int, netip.AddrPort) { return k / 2, ip4(1, 2, 3, byte(k)) }, 30, 10},
		{"16 per /16 per table", DefaultLimits(), func(k int) (int, netip.AddrPort) { return k / 2, ip4(1, 2, byte(k), 1) }, 40, 16},
		{"IPv6 /48 per bucket", DefaultLimits(), func(k int) (int, netip.AddrPort) {
			return 3, netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, 0, 1, 6: byte(k), 15: 1}), 1)
		}, 5, 2},
		{"16 per configured /8 group", Limits{PerBucket24: 2, PerTable24: 10, PerTableGroup: 16, IPv4GroupBits: 8},
			func(k int) (int, netip.AddrPort) { return k % 4, ip4(1, byte(k), 3, 4) }, 40, 16},
		{"IPv6 distinct /32s", DefaultLimits(), func(k int) (int, netip.AddrPort) { return k % 4, ip6in16(k) }, 40, 40},
		{"IPv6 16 per configured /16 group", Limits{PerBucket24: 2, PerTable24: 10, PerTableGroup: 16, IPv6GroupBits: 16},
			func(k int) (int, netip.AddrPort) { return k % 4, ip6in16(k) }, 40, 16},
		{"distinct /16s", DefaultLimits(), func(k int) (int, netip.AddrPort) { return k % 4, ip4(1, byte(k), 3, 4) }, 40, 40},
		{"exempt prefix", Limits{PerBucket24: 2, PerTable24: 10, PerTableGroup: 16, Exempt: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
			func(k int) (int, netip.AddrPort) { return k % 2, ip4(10, 0, 0, byte(k)) }, 30, 30},
		{"loopback not exempt by default", DefaultLimits(), func(k int) (int, netip.AddrPort) { return 3, ip4(127, 0, 0, byte(k+1)) }, 5, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb := NewTable(self, c.lim)
			for k := range c.n {
				i, ap := c.addrs(k)
				tb.Add(fakeRec(self, i), ap, t0)
			}
			if got := tb.Len(); got != c.want {
				t.Errorf("%d entries, want %d", got, c.want)
			}
			if c.want < c.n && tb.Stats().Refused == 0 {
				t.Error("no refusal counted")
			}
		})
	}
}

// ip6in16 is an address of 2001::/16 in its own /32 for each k.
func ip6in16(k int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 1, byte(k), 0xb8, 15: 1}), 1)
}

// fullBucket0 returns a table whose 20 closest entries sit in bucket 3
// and whose bucket 0 is full, each entry in its own /16.
func fullBucket0(t *testing.T, self crypto.ID) (*Table, []*Record) {
	t.Helper()
	tb := NewTable(self, DefaultLimits())
	for k := range BucketSize {
		if r := tb.Add(fakeRec(self, 3), ip4(2, byte(k), 0, 1), t0); r != Added {
			t.Fatalf("bucket 3 entry %d: %v", k, r)
		}
	}
	var b0 []*Record
	for k := range BucketSize {
		r := fakeRec(self, 0)
		if res := tb.Add(r, ip4(3, byte(k), 0, 1), t0.Add(time.Duration(k)*time.Second)); res != Added {
			t.Fatalf("bucket 0 entry %d: %v", k, res)
		}
		b0 = append(b0, r)
	}
	return tb, b0
}

// TestTableReplacementCache checks that a full bucket keeps its entries
// when newcomers arrive (they wait in the replacement cache, bounded),
// and that a replacement takes the slot of an entry that failed
// MaxFailures pings.
func TestTableReplacementCache(t *testing.T) {
	self := crypto.ID{0xaa}
	tb, b0 := fullBucket0(t, self)
	var newcomers []*Record
	for k := range ReplacementSize + 3 {
		r := fakeRec(self, 0)
		if res := tb.Add(r, ip4(4, byte(k), 0, 1), t0.Add(time.Hour)); res != Replacement {
			t.Fatalf("newcomer %d: %v, want Replacement", k, res)
		}
		newcomers = append(newcomers, r)
	}
	for _, r := range b0 {
		if !tb.Contains(r.ID) {
			t.Fatalf("entry %s evicted by a newcomer", r.ID.Short())
		}
	}
	if s := tb.Stats(); s.Replacements != ReplacementSize || s.Entries != 2*BucketSize {
		t.Fatalf("stats %+v, want %d replacements and %d entries", s, ReplacementSize, 2*BucketSize)
	}
	old, _ := tb.Oldest(0)
	if old.ID() != b0[0].ID {
		t.Fatalf("oldest of bucket 0 is %s, want the first added %s", old.ID().Short(), b0[0].ID.Short())
	}
	if tb.Failed(old.ID(), DefaultMaxFailures) {
		t.Fatal("removed after one failure")
	}
	if !tb.Failed(old.ID(), DefaultMaxFailures) {
		t.Fatal("kept after two failures")
	}
	if tb.Contains(old.ID()) {
		t.Fatal("failed entry still there")
	}
	newest := newcomers[len(newcomers)-1]
	if !tb.Contains(newest.ID) {
		t.Fatalf("newest replacement %s not promoted", newest.ID.Short())
	}
	// An answer resets the failure count.
	e, _ := tb.Oldest(0)
	tb.Failed(e.ID(), DefaultMaxFailures)
	tb.Add(e.Record, e.Addr, t0.Add(2*time.Hour))
	if c, _ := tb.Get(e.ID()); c.Fails != 0 {
		t.Fatalf("fails %d after an answer, want 0", c.Fails)
	}
}

// TestTableNeighbourhood checks that nodes that would be among our
// BucketSize closest join a full bucket (up to MaxBucketSize), and the
// others do not.
func TestTableNeighbourhood(t *testing.T) {
	self := crypto.ID{0x0f}
	tb := NewTable(self, DefaultLimits())
	var ids []crypto.ID
	const offered = 35 // below MaxBucketSize: every near node fits
	// Seeded: in about 1 random order in 130 every newcomer is nearer than
	// the BucketSize nearest before it, and all 35 join.
	rng := rand.New(rand.NewPCG(17, 17))
	for k := range offered {
		r := &Record{ID: randomIDInBucket(rng, self, 0), Roles: RoleServer}
		ids = append(ids, r.ID)
		tb.Add(r, ip4(5, byte(k), 0, 1), t0)
	}
	if got := tb.Len(); got >= offered || got < BucketSize {
		t.Fatalf("%d entries in the only bucket, want %d-%d (far ones wait as replacements)", got, BucketSize, offered-1)
	}
	SortByDistance(self, ids)
	for _, id := range ids[:BucketSize] {
		if !tb.Contains(id) {
			t.Errorf("one of the %d closest, %s, is not an entry", BucketSize, id.Short())
		}
	}
	tb2, _ := fullBucket0(t, self)
	if r := tb2.Add(fakeRec(self, 0), ip4(6, 0, 0, 1), t0); r != Replacement {
		t.Fatalf("far newcomer: %v, want Replacement", r)
	}
	if r := tb2.Add(fakeRec(self, 10), ip4(6, 1, 0, 1), t0); r != Added {
		t.Fatalf("near newcomer: %v, want Added", r)
	}
}

// TestTableClosest checks Closest against a full sort of every entry by
// distance, for counts from none to more than the table holds and
// targets near and far: the same contacts in the same order.
func TestTableClosest(t *testing.T) {
	self := crypto.ID{0x3c}
	rng := rand.New(rand.NewPCG(5, 6))
	tb := NewTable(self, Limits{Exempt: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}})
	for k := range 400 {
		tb.Add(fakeRec(self, rng.IntN(20)), ip4(1, byte(k>>8), byte(k), 1), t0)
	}
	if tb.Len() < 100 {
		t.Fatalf("%d entries", tb.Len())
	}
	var all []crypto.ID
	for i := range tb.buckets {
		for _, e := range tb.buckets[i].entries {
			all = append(all, e.Record.ID)
		}
	}
	for _, target := range []crypto.ID{self, RandomIDInBucket(self, 0), RandomIDInBucket(self, 7), RandomIDInBucket(self, 19)} {
		want := slices.Clone(all)
		slices.SortFunc(want, func(a, b crypto.ID) int {
			da, db := Distance(target, a), Distance(target, b)
			return bytes.Compare(da[:], db[:])
		})
		for _, n := range []int{0, 1, 2, BucketSize, MaxNodesScan, len(all) - 1, len(all), len(all) + 5} {
			got := tb.Closest(target, n)
			if len(got) != min(n, len(all)) {
				t.Fatalf("Closest(%x, %d): %d contacts", target[:2], n, len(got))
			}
			for i, c := range got {
				if c.Record.ID != want[i] {
					t.Fatalf("Closest(%x, %d)[%d] = %x, want %x", target[:2], n, i, c.Record.ID[:4], want[i][:4])
				}
			}
		}
	}
}

// TestTableNewestSeqWins: the table keeps a node's record with the highest
// sequence number; an older one offered later changes nothing.
func TestTableNewestSeqWins(t *testing.T) {
	key := testKey(t, 50, 1)
	addr := memAddr(1)
	tb := NewTable(testKey(t, 50, 0).ID(), DefaultLimits())
	for _, step := range []struct {
		seq, want uint64
	}{{5, 5}, {3, 5}, {7, 7}, {6, 7}} {
		r, err := NewRecord(key, "net", step.seq, RoleServer, []netip.AddrPort{addr})
		if err != nil {
			t.Fatal(err)
		}
		tb.Add(r, addr, t0)
		c, ok := tb.Get(key.ID())
		if !ok || c.Record.Seq != step.want {
			t.Fatalf("after seq %d: entry %v (seq %d), want seq %d", step.seq, ok, c.Record.Seq, step.want)
		}
	}
}
