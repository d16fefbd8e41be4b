package peerbook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// pexHas reports whether an answer to a fresh requester carries id.
func pexHas(b *Book, id crypto.ID) bool {
	resp := b.AnswerPex(&pb.PexRequest{Max: 100}, idN(999_999))
	for _, pa := range resp.GetAddrs() {
		if crypto.ID(pa.GetId()) == id {
			return true
		}
	}
	return false
}

// TestUnverifiedInbound: an address a peer advertised on an inbound
// connection is stored unverified and kept out of PEX answers until a dial
// to it succeeds (MarkSuccess) or it is verified (MarkVerified); a new
// inbound address makes it unverified again; the operator's and PEX
// sources are not affected.
func TestUnverifiedInbound(t *testing.T) {
	tests := []struct {
		name   string
		src    SourceKind
		verify func(b *Book, a crypto.Address) error
	}{
		{"dialed", SourceInbound, func(b *Book, a crypto.Address) error { return b.MarkSuccess(a) }},
		{"verified", SourceInbound, func(b *Book, a crypto.Address) error { return b.MarkVerified(a) }},
		{"manual", SourceManual, nil},
		{"bootstrap", SourceBootstrap, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBook(t, Config{}, testDeps(newClock()))
			a := addrOf(idN(7), "11.7.7.7", 26656)
			if err := b.Add(a, Source{Kind: tt.src, Host: "11.7.7.7"}); err != nil {
				t.Fatal(err)
			}
			e, _ := b.Get(a.ID)
			if want := tt.src == SourceInbound; e.Unverified != want || pexHas(b, a.ID) == want {
				t.Fatalf("after Add from %v: Unverified %v, in PEX %v; want unverified %v", tt.src, e.Unverified, pexHas(b, a.ID), want)
			}
			checkInvariants(t, b)
			if tt.verify == nil {
				return
			}
			if err := tt.verify(b, a); err != nil {
				t.Fatal(err)
			}
			if e, _ := b.Get(a.ID); e.Unverified || !pexHas(b, a.ID) {
				t.Fatalf("after verification: Unverified %v, in PEX %v", e.Unverified, pexHas(b, a.ID))
			}
			// The same address again from the peer: still verified.
			if err := b.Add(a, Source{Kind: SourceInbound}); err != nil {
				t.Fatal(err)
			}
			if e, _ := b.Get(a.ID); e.Unverified {
				t.Fatal("re-advertising the verified address made it unverified")
			}
			// A new address from the peer: unverified again.
			moved := addrOf(a.ID, "12.8.8.8", 26656)
			if err := b.Add(moved, Source{Kind: SourceInbound}); err != nil {
				t.Fatal(err)
			}
			if e, _ := b.Get(a.ID); !e.Unverified || pexHas(b, a.ID) {
				t.Fatalf("after a new inbound address: Unverified %v, in PEX %v", e.Unverified, pexHas(b, a.ID))
			}
			checkInvariants(t, b)
		})
	}
}

// TestMarkVerifiedOtherAddress: verifying an address the entry no longer
// holds changes nothing; an unknown peer is ErrUnknownPeer.
func TestMarkVerifiedOtherAddress(t *testing.T) {
	b := newTestBook(t, Config{}, testDeps(newClock()))
	a := addrOf(idN(7), "11.7.7.7", 26656)
	if err := b.Add(a, Source{Kind: SourceInbound}); err != nil {
		t.Fatal(err)
	}
	if err := b.MarkVerified(addrOf(a.ID, "11.7.7.7", 1)); err != nil {
		t.Fatal(err)
	}
	if e, _ := b.Get(a.ID); !e.Unverified {
		t.Fatal("verifying another port verified the entry")
	}
	if err := b.MarkVerified(addrOf(idN(8), "11.7.7.7", 1)); err != ErrUnknownPeer {
		t.Fatalf("unknown peer: %v", err)
	}
}

// TestUnverifiedPersist: the flag survives a save and a load; an old file
// without the flag loads an inbound entry that was never in the tried
// table as unverified, every other entry as verified.
func TestUnverifiedPersist(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "book.json")
	b, _ := openTestBook(t, path, Config{}, testDeps(clk))
	unv := addrOf(idN(1), "11.1.1.1", 1)
	ver := addrOf(idN(2), "12.1.1.1", 1)
	for _, a := range []crypto.Address{unv, ver} {
		if err := b.Add(a, Source{Kind: SourceInbound}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.MarkVerified(ver); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b2, _ := openTestBook(t, path, Config{}, testDeps(clk))
	if e, _ := b2.Get(unv.ID); !e.Unverified {
		t.Fatal("unverified entry loaded verified")
	}
	if e, _ := b2.Get(ver.ID); e.Unverified {
		t.Fatal("verified entry loaded unverified")
	}

	secret := `"secret":"` + strings.Repeat("5a", 32) + `"`
	old := `{"version":1,` + secret + `,"entries":[
{"addr":"` + idN(3).String() + `@13.1.1.1:1","source":"inbound"},
{"addr":"` + idN(4).String() + `@14.1.1.1:1","source":"inbound","tried":true,"last_success":"2025-03-01T11:00:00Z"},
{"addr":"` + idN(5).String() + `@15.1.1.1:1","source":"pex","source_from":"` + idN(9).String() + `"},
{"addr":"` + idN(6).String() + `@16.1.1.1:1","source":"manual","unverified":true}
]}`
	oldPath := filepath.Join(t.TempDir(), "old.json")
	if err := os.WriteFile(oldPath, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	b3, rep := openTestBook(t, oldPath, Config{}, testDeps(clk))
	if rep.Entries != 4 {
		t.Fatalf("old file: %d entries loaded (%+v)", rep.Entries, rep)
	}
	for n, want := range map[uint64]bool{3: true, 4: false, 5: false, 6: false} {
		if e, _ := b3.Get(idN(n)); e.Unverified != want {
			t.Errorf("old file entry %d (%v): Unverified %v, want %v", n, e.Source.Kind, e.Unverified, want)
		}
	}
	checkInvariants(t, b3)
}

// TestMarkSuccessAddress: a successful dial clears an inbound advert's
// unverified flag only when the address dialed is the book's address for
// the peer; reaching the peer elsewhere leaves the advert unshared, but
// still counts as a success (failures reset, tried table).
func TestMarkSuccessAddress(t *testing.T) {
	a := addrOf(idN(7), "11.7.7.7", 26656)
	tests := []struct {
		name     string
		dialed   crypto.Address
		verified bool
	}{
		{"the book's address", a, true},
		{"the same IP, IPv4-mapped", crypto.Address{ID: a.ID, Host: "::ffff:11.7.7.7", Port: 26656}, true},
		{"another IP", addrOf(a.ID, "12.9.9.9", 26656), false},
		{"another port", addrOf(a.ID, "11.7.7.7", 26657), false},
		{"a name", crypto.Address{ID: a.ID, Host: "node.example.org", Port: 26656}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBook(t, Config{}, testDeps(newClock()))
			if err := b.Add(a, Source{Kind: SourceInbound, Host: "11.7.7.7"}); err != nil {
				t.Fatal(err)
			}
			if _, err := b.MarkFailure(a.ID); err != nil {
				t.Fatal(err)
			}
			if err := b.MarkSuccess(tt.dialed); err != nil {
				t.Fatal(err)
			}
			e, _ := b.Get(a.ID)
			if e.Unverified == tt.verified || pexHas(b, a.ID) != tt.verified {
				t.Fatalf("dialed %v: Unverified %v, in PEX %v; want verified %v", tt.dialed, e.Unverified, pexHas(b, a.ID), tt.verified)
			}
			if e.Failures != 0 || e.LastSuccess.IsZero() {
				t.Fatalf("dialed %v: failures %d, last success %v", tt.dialed, e.Failures, e.LastSuccess)
			}
			checkInvariants(t, b)
		})
	}
}
