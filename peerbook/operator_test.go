package peerbook

import (
	"path/filepath"
	"testing"

	"github.com/peerwire/peerwire/crypto"
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

// TestCollidingEntriesKept: two addresses whose hashed slots of the new
// table collide are both kept, whoever reported them: the second takes a
// free slot of the bucket, and both keep their slots across a save and a
// load. (The lab's TestCrashRestart lost one of three bootstrap peers of
// one /16 to such a collision about one run in six, and the 8-node demo a
// node's PEX report about one run in eight.)
func TestCollidingEntriesKept(t *testing.T) {
	peer := Source{Kind: SourcePEX, From: idN(900_001)}
	for _, tc := range []struct {
		name          string
		first, second Source
	}{
		{"two bootstrap peers", Source{Kind: SourceBootstrap}, Source{Kind: SourceBootstrap}},
		{"bootstrap after a manual entry", Source{Kind: SourceManual}, Source{Kind: SourceBootstrap}},
		{"two reports of one peer", peer, peer},
		{"two inbound adverts", Source{Kind: SourceInbound}, Source{Kind: SourceInbound}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			path := filepath.Join(t.TempDir(), "peerbook.json")
			b, _ := openTestBook(t, path, Config{}, testDeps(clk))
			host := publicIP(7)
			k0, k1 := collidingIDs(t, b, 1, host, tc.first, tc.second)
			a0, a1 := addrOf(idN(k0), host, 26656), addrOf(idN(k1), host, 26656)
			if err := b.Add(a0, tc.first); err != nil {
				t.Fatalf("first add: %v", err)
			}
			if err := b.Add(a1, tc.second); err != nil {
				t.Fatalf("second add: %v", err)
			}
			slots := map[string]int{}
			for _, a := range []crypto.Address{a0, a1} {
				e, ok := b.mu.byID[a.ID]
				if !ok {
					t.Fatalf("%v was dropped: its slot was taken", a)
				}
				slots[a.String()] = e.pos
			}
			if err := b.Save(); err != nil {
				t.Fatal(err)
			}
			b.Close()
			b2, _ := openTestBook(t, path, Config{}, testDeps(clk))
			defer b2.Close()
			for _, a := range []crypto.Address{a1, a0} {
				e, ok := b2.mu.byID[a.ID]
				if !ok {
					t.Fatalf("%v was dropped at load", a)
				}
				if e.pos != slots[a.String()] {
					t.Fatalf("%v moved from slot %d to %d at load", a, slots[a.String()], e.pos)
				}
			}
		})
	}
}
