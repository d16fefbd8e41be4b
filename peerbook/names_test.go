package peerbook

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

func idBytes(n uint64) []byte { id := idN(n); return id[:] }

// TestNetworkNames: DNS names reported by peers (PEX, inbound adverts) are
// refused unless Config.AllowNetworkNames is set; the operator's names
// (bootstrap, manual, protected) are always stored. The rules for names
// that plainly stay local still apply with the switch on.
func TestNetworkNames(t *testing.T) {
	name := func(n uint64, host string) crypto.Address { return crypto.Address{ID: idN(n), Host: host, Port: 26656} }
	from := addrOf(idN(100), "15.1.1.1", 26656)
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow=%v", allow), func(t *testing.T) {
			cfg, deps := Config{}, testDeps(newClock())
			cfg.AllowNetworkNames = allow
			b := newTestBook(t, cfg, deps)

			res := ingest(t, b, from, &pb.PexResponse{Addrs: []*pb.PeerAddress{
				{Id: idBytes(1), Host: "Node-1.Example.org", Port: 26656},
				{Id: idBytes(2), Host: "box.local", Port: 26656},
				{Id: idBytes(3), Host: "11.1.1.1", Port: 26656},
			}})
			if want := map[bool]int{false: 1, true: 2}[allow]; res.Added != want {
				t.Fatalf("PEX: %d added, want %d: %+v", res.Added, want, res)
			}
			if !allow && res.Ignored[IgnoreName] != 1 {
				t.Fatalf("PEX name not refused as a network name: %+v", res)
			}
			if res.Ignored[IgnoreUnroutable] != 1 {
				t.Fatalf("box.local: %+v", res)
			}
			if e, ok := b.Get(idN(1)); ok != allow || (ok && e.Addr.Host != "node-1.example.org") {
				t.Fatalf("PEX name stored = %v (%v), want %v, normalised", ok, e.Addr, allow)
			}

			err := b.Add(name(4, "peer.example.org"), Source{Kind: SourceInbound, From: idN(4)})
			if allow != (err == nil) || (!allow && !errors.Is(err, ErrNetworkName)) {
				t.Fatalf("inbound advert of a name: %v", err)
			}
			for i, kind := range []SourceKind{SourceBootstrap, SourceManual} {
				if err := b.Add(name(uint64(10+i), "seed.example.org"), Source{Kind: kind}); err != nil {
					t.Fatalf("%v name refused: %v", kind, err)
				}
			}
			if err := b.Protect(name(20, "must.example.org")); err != nil {
				t.Fatalf("protected name refused: %v", err)
			}
			checkInvariants(t, b)
		})
	}
}

// TestLoadDropsNetworkNames: a book file written while AllowNetworkNames
// was on (or by an older version that stored every name) loses its
// peer-reported names when opened with the switch off, and keeps the
// operator's.
func TestLoadDropsNetworkNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peerbook.json")
	cfg, deps := Config{}, testDeps(newClock())
	cfg.AllowNetworkNames = true
	b, _ := openTestBook(t, path, cfg, deps)
	from := addrOf(idN(100), "15.1.1.1", 26656)
	if res := ingest(t, b, from, &pb.PexResponse{Addrs: []*pb.PeerAddress{{Id: idBytes(1), Host: "pex.example.org", Port: 1}}}); res.Added != 1 {
		t.Fatalf("%+v", res)
	}
	for i, src := range []Source{{Kind: SourceInbound}, {Kind: SourceBootstrap}, {Kind: SourceManual}} {
		if err := b.Add(crypto.Address{ID: idN(uint64(2 + i)), Host: "h.example.org", Port: 1}, src); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Protect(crypto.Address{ID: idN(9), Host: "must.example.org", Port: 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	cfg.AllowNetworkNames = false
	b2, rep := openTestBook(t, path, cfg, deps)
	defer b2.Close()
	for n, want := range map[uint64]bool{1: false, 2: false, 3: true, 4: true, 9: true} {
		if _, ok := b2.Get(idN(n)); ok != want {
			t.Errorf("entry %d kept = %v, want %v", n, ok, want)
		}
	}
	if rep.Dropped != 2 {
		t.Errorf("report %+v, want 2 dropped", rep)
	}
	checkInvariants(t, b2)
}
