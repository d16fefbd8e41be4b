package peerbook

import (
	"path/filepath"
	"testing"
)

// collidingIDs returns two IDs from `from` on whose addresses on host, reported by src0
// and src1, fall on the same slot of the new table.
func collidingIDs(t *testing.T, b *Book, from uint64, host string, src0, src1 Source) (uint64, uint64) {
	t.Helper()
	pos := func(k uint64, src Source) int {
		a := addrOf(idN(k), host, 26656)
		e := &entry{addr: a, src: src, group: b.groupOf(a.Host), srcGroup: b.srcGroupOf(src, a.Host)}
		return b.newPos(e)
	}
	seen := map[int]uint64{}
	for k := from; k < from+200_000; k += 2 {
		seen[pos(k, src0)] = k
		if k0, ok := seen[pos(k+1, src1)]; ok {
			return k0, k + 1
		}
	}
	t.Fatal("no colliding IDs found")
	return 0, 0
}

// TestOperatorEntriesKept: addresses the operator typed (bootstrap,
// manual) are not dropped because another took their slot in the new
// table: they take a free slot of their bucket, and keep it across a save
// and a load. (The lab's
// TestCrashRestart lost one of three bootstrap peers of one /16 to such a
// collision about one run in six.)
func TestOperatorEntriesKept(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first Source // the entry already in the slot
	}{
		{"two bootstrap peers", Source{Kind: SourceBootstrap}},
		{"bootstrap after a manual entry", Source{Kind: SourceManual}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			path := filepath.Join(t.TempDir(), "peerbook.json")
			b, _ := openTestBook(t, path, Config{}, testDeps(clk))
			host := publicIP(7)
			k0, k1 := collidingIDs(t, b, 1, host, tc.first, Source{Kind: SourceBootstrap})
			a0, a1 := addrOf(idN(k0), host, 26656), addrOf(idN(k1), host, 26656)
			if err := b.Add(a0, tc.first); err != nil {
				t.Fatalf("first add: %v", err)
			}
			if err := b.Add(a1, Source{Kind: SourceBootstrap}); err != nil {
				t.Fatalf("bootstrap add: %v", err)
			}
			if _, ok := b.Get(a1.ID); !ok {
				t.Fatal("the bootstrap address was dropped: its slot was taken")
			}
			_, firstKept := b.Get(a0.ID)
			if operatorSource(tc.first) && !firstKept {
				t.Fatal("an operator's entry was evicted by another operator's")
			}
			if err := b.Save(); err != nil {
				t.Fatal(err)
			}
			b.Close()
			b2, _ := openTestBook(t, path, Config{}, testDeps(clk))
			defer b2.Close()
			if _, ok := b2.Get(a1.ID); !ok {
				t.Fatal("the bootstrap address was dropped at load")
			}
			if _, ok := b2.Get(a0.ID); ok != firstKept {
				t.Fatalf("first entry after load: %v, before %v", ok, firstKept)
			}
		})
	}
}
