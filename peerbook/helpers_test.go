package peerbook

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/proto/pb"
)

// newClock returns the one shared fake clock (clock.Fake), set to the
// date the book tests were written against.
func newClock() *clock.Fake {
	c := clock.NewFake()
	c.Set(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	return c
}

// seeded returns a deterministic Deps.Rand.
func seeded(n uint64) *rand.ChaCha8 {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], n)
	return rand.NewChaCha8(seed)
}

// testDeps wires a book to a fake clock and seeded randomness.
func testDeps(clk *clock.Fake) Deps {
	return Deps{Clock: clk, Rand: seeded(1), SelfID: idN(1 << 62)}
}

func newTestBook(t testing.TB, cfg Config, deps Deps) *Book {
	t.Helper()
	b, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// idN returns a distinct, non-zero peer ID for n.
func idN(n uint64) crypto.ID {
	var id crypto.ID
	binary.BigEndian.PutUint64(id[:8], n)
	id[19] = 0xa5
	return id
}

func addrOf(id crypto.ID, host string, port uint16) crypto.Address {
	a, err := crypto.ParseAddress(fmt.Sprintf("%s@%s", id, netip.AddrPortFrom(netip.MustParseAddr(host), port)))
	if err != nil {
		panic(err)
	}
	return a
}

// publicIP returns a routable IPv4 address whose /16 is 11.0/16 + (n>>16)
// and whose low 16 bits are n: distinct n below 2^16 share a /16 group.
func publicIP(n uint32) string {
	a := 11 + byte(n>>24)%80 // 11-90: public unicast, no special ranges
	return netip.AddrFrom4([4]byte{a, byte(n >> 16), byte(n >> 8), byte(n)}).String()
}

// randomPublicIP returns a random routable IPv4 address in 11.0.0.0-90.255.255.255.
func randomPublicIP(r *rand.Rand) string {
	return netip.AddrFrom4([4]byte{byte(11 + r.IntN(80)), byte(r.IntN(256)), byte(r.IntN(256)), byte(1 + r.IntN(254))}).String()
}

func pexAddr(a crypto.Address) *pb.PeerAddress {
	return &pb.PeerAddress{Id: append([]byte(nil), a.ID[:]...), Host: a.Host, Port: uint32(a.Port)}
}

func pexResp(addrs ...crypto.Address) *pb.PexResponse {
	r := &pb.PexResponse{}
	for _, a := range addrs {
		r.Addrs = append(r.Addrs, pexAddr(a))
	}
	return r
}

// ingest marks a request to from and ingests resp.
func ingest(t testing.TB, b *Book, from crypto.Address, resp *pb.PexResponse) PexResult {
	t.Helper()
	if err := b.MarkPexRequested(from.ID); err != nil {
		t.Fatal(err)
	}
	res, _ := b.IngestPex(from, resp)
	return res
}

// checkInvariants verifies that every index of the book agrees with every
// other; tests call it after each scenario.
func checkInvariants(t testing.TB, b *Book) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	m := &b.mu
	var count [3]int
	protected := 0
	for id, e := range m.byID {
		if e.addr.ID != id {
			t.Fatalf("byID[%s] holds %s", id.Short(), e.addr.ID.Short())
		}
		if e.unverified && e.src.Kind != SourceInbound {
			t.Fatalf("%s unverified with source %v", id.Short(), e.src.Kind)
		}
		if e.protected {
			protected++
			if e.table != tableNone || e.allIdx >= 0 || e.readyIdx >= 0 || e.heapIdx >= 0 {
				t.Fatalf("protected %s is indexed: %+v", id.Short(), e)
			}
			continue
		}
		if e.table != tableNew && e.table != tableTried {
			t.Fatalf("%s in table %d", id.Short(), e.table)
		}
		count[e.table]++
		if m.slots[e.table][e.pos] != e {
			t.Fatalf("%s not at its slot", id.Short())
		}
		if e.allIdx < 0 || e.allIdx >= len(m.all) || m.all[e.allIdx] != e {
			t.Fatalf("%s not at its all index", id.Short())
		}
		inReady := e.readyIdx >= 0 && e.readyIdx < len(m.ready[e.table]) && m.ready[e.table][e.readyIdx] == e
		inHeap := e.heapIdx >= 0 && e.heapIdx < len(m.waiting) && m.waiting[e.heapIdx] == e
		if inReady == inHeap {
			t.Fatalf("%s: ready %v, waiting %v", id.Short(), inReady, inHeap)
		}
		if e.failures >= b.cfg.MaxFailures {
			t.Fatalf("%s kept with %d failures", id.Short(), e.failures)
		}
	}
	locals := 0
	for id, e := range m.byID {
		if e.src.Kind == SourceLocal && !e.protected {
			locals++
			if m.local[id] != e {
				t.Fatalf("local %s not in the local set", id.Short())
			}
		}
	}
	if locals != len(m.local) || locals > MaxLocal {
		t.Fatalf("%d local entries, local set %d, cap %d", locals, len(m.local), MaxLocal)
	}
	for tb := tableNew; tb <= tableTried; tb++ {
		n := 0
		for _, e := range m.slots[tb] {
			if e != nil {
				n++
				if m.byID[e.addr.ID] != e {
					t.Fatalf("slot holds an entry not in byID")
				}
			}
		}
		if n != count[tb] || m.count[tb] != n {
			t.Fatalf("table %d: %d in slots, %d in byID, count %d", tb, n, count[tb], m.count[tb])
		}
	}
	if len(m.all) != count[tableNew]+count[tableTried] || len(m.all) > b.cfg.MaxEntries {
		t.Fatalf("all has %d, tables %d, max %d", len(m.all), count[tableNew]+count[tableTried], b.cfg.MaxEntries)
	}
	if len(m.ready[tableNew])+len(m.ready[tableTried])+len(m.waiting) != len(m.all) {
		t.Fatalf("ready+waiting != all")
	}
	for i := 1; i < len(m.waiting); i++ {
		if m.waiting[i].nextAttempt.Before(m.waiting[(i-1)/2].nextAttempt) {
			t.Fatalf("heap order broken at %d", i)
		}
	}
	known := map[netip.Addr]int{}
	for _, e := range m.byID {
		if (e.protected || e.table == tableTried) && e.ip.IsValid() {
			known[e.ip.Unmap()]++
		}
	}
	if !maps.Equal(known, m.known) {
		t.Fatalf("known IPs %v, want (from the entries) %v", m.known, known)
	}
	if protected != len(m.protected) || protected > MaxProtected {
		t.Fatalf("protected %d, in the protected map %d", protected, len(m.protected))
	}
	for id, e := range m.protected {
		if m.byID[id] != e || !e.protected {
			t.Fatalf("protected map holds %s wrongly", id.Short())
		}
	}
	if len(m.bans) > MaxBans || len(m.ipBans) > MaxBans || len(m.pexOut) > maxPexOutstanding {
		t.Fatalf("bans or PEX requests over bound")
	}
}

// fixedFilter refuses the IPs in deny, for both uses.
type fixedFilter struct{ deny map[netip.Addr]bool }

func (f fixedFilter) AllowPEX(ip netip.Addr) (bool, string) {
	if f.deny[ip] {
		return false, "denied"
	}
	return true, ""
}

func (f fixedFilter) AllowDial(ip netip.Addr) (bool, string) { return f.AllowPEX(ip) }
