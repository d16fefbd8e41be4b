package p2p

import (
	"encoding/hex"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// obsID is a distinct observer ID for n.
func obsID(n int) crypto.ID {
	var id crypto.ID
	id[0], id[1], id[19] = byte(n>>8), byte(n), 0x5a
	return id
}

// TestObservedVotes: the vote, with injected observer addresses. An IP is
// believed only when ObservedQuorum observers in distinct groups (IPv4
// /16, IPv6 /48) agree and no other IP has as many; a port only when as
// many groups of observers that dialed us agree; many observers in one
// group count once; observations expire.
func TestObservedVotes(t *testing.T) {
	me := netip.MustParseAddrPort("203.0.113.7:26656")
	lie := netip.MustParseAddrPort("198.51.100.9:1")
	type report struct {
		observer string
		seen     netip.AddrPort
		dialed   bool
	}
	honest := func(observers ...string) []report {
		var out []report
		for _, o := range observers {
			out = append(out, report{o, me, true})
		}
		return out
	}
	me6 := netip.MustParseAddrPort("[2001:db8::7]:26656")
	lie6 := netip.MustParseAddrPort("[2001:db8:bad::9]:1")
	addrs := func(aps ...netip.AddrPort) []netip.AddrPort { return aps }
	tests := []struct {
		name    string
		reports []report
		want    []netip.AddrPort // believedAll
	}{
		{"four groups", honest("11.1.0.1", "12.1.0.1", "13.1.0.1", "14.1.0.1"), addrs(me)},
		{"three groups", honest("11.1.0.1", "12.1.0.1", "13.1.0.1"), nil},
		{"four in one group", honest("11.1.0.1", "11.1.0.2", "11.1.9.3", "11.1.200.4"), nil},
		{"three liars in one group", []report{{"21.1.0.1", lie, true}, {"21.1.0.2", lie, true}, {"21.1.0.3", lie, true}}, nil},
		{"liars outvoted", append(honest("11.1.0.1", "12.1.0.1", "13.1.0.1", "14.1.0.1"),
			report{"21.1.0.1", lie, true}, report{"22.1.0.2", lie, true}, report{"23.1.0.3", lie, true}), addrs(me)},
		{"tie", append(honest("11.1.0.1", "12.1.0.1", "13.1.0.1", "14.1.0.1"),
			report{"21.1.0.1", lie, true}, report{"22.1.0.2", lie, true}, report{"23.1.0.3", lie, true}, report{"24.1.0.3", lie, true}), nil},
		{"IP only from outbound connections", []report{{"11.1.0.1", me, false}, {"12.1.0.1", me, false}, {"13.1.0.1", me, false}, {"14.1.0.1", me, false}},
			addrs(netip.AddrPortFrom(me.Addr(), 0))},
		{"port needs four dialers", []report{{"11.1.0.1", me, true}, {"12.1.0.1", me, true}, {"13.1.0.1", me, true}, {"14.1.0.1", me, false}},
			addrs(netip.AddrPortFrom(me.Addr(), 0))},
		{"IPv6 observers by /48", honest("2a01:1:1::1", "2a01:1:2::1", "2a01:1:3::1", "2a01:1:4::1"), addrs(me)},
		{"four honest, three liars in one group", append(honest("11.1.0.1", "12.1.0.1", "13.1.0.1", "14.1.0.1"),
			report{"21.1.0.1", lie, true}, report{"21.1.0.2", lie, true}, report{"21.1.9.3", lie, true}), addrs(me)},
		{"four honest, five liars in one group", append(honest("11.1.0.1", "12.1.0.1", "13.1.0.1", "14.1.0.1"),
			report{"21.1.0.1", lie, true}, report{"21.1.0.2", lie, true}, report{"21.1.9.3", lie, true}, report{"21.1.9.4", lie, true},
			report{"21.1.200.5", lie, true}), addrs(me)},
		{"dual stack: both families believed", append(honest("11.1.0.1", "12.1.0.1", "13.1.0.1", "14.1.0.1"),
			report{"2a01:1:1::1", me6, true}, report{"2a01:1:2::1", me6, true}, report{"2a01:1:3::1", me6, true}, report{"2a01:1:4::1", me6, true}),
			addrs(me, me6)},
		{"dual stack: IPv6 first, then IPv4", append([]report{{"2a01:1:1::1", me6, true}, {"2a01:1:2::1", me6, true}, {"2a01:1:3::1", me6, true},
			{"2a01:1:4::1", me6, true}, {"2a01:1:5::1", me6, true}}, honest("11.1.0.1", "12.1.0.1", "13.1.0.1", "14.1.0.1")...),
			addrs(me, me6)},
		{"dual stack: IPv6 short of a quorum", append(honest("11.1.0.1", "12.1.0.1", "13.1.0.1", "14.1.0.1"),
			report{"2a01:1:1::1", me6, true}, report{"2a01:1:2::1", me6, true}, report{"2a01:1:3::1", me6, true}),
			addrs(me)},
		{"dual stack: a tie in IPv6 leaves IPv4", append(honest("11.1.0.1", "12.1.0.1", "13.1.0.1", "14.1.0.1"),
			report{"2a01:1:1::1", me6, true}, report{"2a01:1:2::1", me6, true}, report{"2a01:1:3::1", me6, true}, report{"2a01:1:4::1", me6, true},
			report{"2a02:1:1::1", lie6, true}, report{"2a02:1:2::1", lie6, true}, report{"2a02:1:3::1", lie6, true}, report{"2a02:1:4::1", lie6, true}),
			addrs(me)},
		{"dual stack: IPv4 only from outbound, IPv6 with its port", []report{{"11.1.0.1", me, false}, {"12.1.0.1", me, false}, {"13.1.0.1", me, false},
			{"14.1.0.1", me, false}, {"2a01:1:1::1", me6, true}, {"2a01:1:2::1", me6, true}, {"2a01:1:3::1", me6, true}, {"2a01:1:4::1", me6, true}},
			addrs(netip.AddrPortFrom(me.Addr(), 0), me6)},
		{"IPv6 /64s of one /48", honest("2a01:1:1:1::1", "2a01:1:1:2::1", "2a01:1:1:3::1", "2a01:1:1:4::1"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v observedVotes
			now := time.Unix(1_700_000_000, 0)
			var got [2]netip.AddrPort
			for i, r := range tt.reports {
				got, _ = v.add(obsID(i), netip.MustParseAddr(r.observer), r.seen, r.dialed, nil, now)
			}
			var tally []netip.AddrPort
			for _, ap := range got {
				if ap.Addr().IsValid() {
					tally = append(tally, ap)
				}
			}
			if all := v.believedAll(); !slices.Equal(all, tt.want) || !slices.Equal(tally, tt.want) {
				t.Fatalf("believed %v (tally %v), want %v", all, tally, tt.want)
			}
			first := netip.AddrPort{}
			if len(tt.want) > 0 {
				first = tt.want[0]
			}
			if got := v.believed(); got != first {
				t.Fatalf("believed() %v, want %v", got, first)
			}
		})
	}
	// One peer reporting again replaces its own report: it cannot vote twice.
	var v observedVotes
	now := time.Unix(1_700_000_000, 0)
	for i, o := range []string{"11.1.0.1", "12.1.0.1", "13.1.0.1"} {
		v.add(obsID(i), netip.MustParseAddr(o), me, true, nil, now)
	}
	for range 5 {
		v.add(obsID(0), netip.MustParseAddr("11.1.0.1"), lie, true, nil, now)
	}
	if got := v.believed(); got.IsValid() {
		t.Fatalf("believed %v after one peer's repeated reports", got)
	}
	// Repeated reports, across sweeps, count once.
	v = observedVotes{}
	for i, o := range []string{"11.1.0.1", "12.1.0.1", "13.1.0.1"} {
		for k := range 3 {
			v.add(obsID(i), netip.MustParseAddr(o), me, true, nil, now.Add(time.Duration(k)*observedSweep))
		}
	}
	if got := v.believed(); got.IsValid() || got.Addr().IsValid() {
		t.Fatalf("three observers repeating themselves over sweeps: believed %v", got)
	}
	checkVoteCounts(t, &v)
	// Reports expire.
	v = observedVotes{}
	for i, o := range []string{"11.1.0.1", "12.1.0.1", "13.1.0.1", "14.1.0.1"} {
		v.add(obsID(i), netip.MustParseAddr(o), me, true, nil, now)
	}
	if got, changed := v.add(obsID(9), netip.MustParseAddr("15.1.0.1"), me, true, nil, now.Add(observedTTL+time.Second)); got[fam4].IsValid() || !changed[fam4] {
		t.Fatalf("after the TTL: believed %v, changed %v", got, changed)
	}
	// The observations kept are bounded.
	v = observedVotes{}
	for i := range maxObservers + 10 {
		v.add(obsID(i), netip.AddrFrom4([4]byte{11, byte(i >> 8), byte(i), 1}), me, true, nil, now.Add(time.Duration(i)))
	}
	if n := len(v.byPeer); n != maxObservers {
		t.Fatalf("%d observations kept, bound %d", n, maxObservers)
	}
	checkVoteCounts(t, &v)
}

// checkVoteCounts checks the group counts against the reports kept.
func checkVoteCounts(t *testing.T, v *observedVotes) {
	t.Helper()
	ips, ports := 0, 0
	for _, gs := range v.ipGroups {
		for _, n := range gs {
			ips += n
		}
	}
	for _, gs := range v.portGroups {
		for _, n := range gs {
			ports += n
		}
	}
	wantPorts := 0
	for _, o := range v.byPeer {
		if o.portOK {
			wantPorts++
		}
	}
	if ips != len(v.byPeer) || ports != wantPorts {
		t.Fatalf("counts: %d IP reports, %d port reports; kept %d, %d dialers", ips, ports, len(v.byPeer), wantPorts)
	}
}

// TestObservedDecode: the field round-trips and every malformed form is
// an error; a message without it is fine.
func TestObservedDecode(t *testing.T) {
	for _, ap := range []string{"203.0.113.7:26656", "[2001:db8::7]:1", "[::ffff:1.2.3.4]:5"} {
		want := netip.MustParseAddrPort(ap)
		got, ok, err := decodeObserved(appendObserved(nil, want))
		if err != nil || !ok || got != netip.AddrPortFrom(want.Addr().Unmap(), want.Port()) {
			t.Fatalf("%s: %v %v %v", ap, got, ok, err)
		}
	}
	if _, ok, err := decodeObserved(nil); ok || err != nil {
		t.Fatalf("no field: %v %v", ok, err)
	}
	for _, bad := range []string{
		"7a05cb00710768",        // 5 bytes
		"7a0600000000" + "6820", // 0.0.0.0
		"7a06cb007107" + "0000", // port 0
		"78" + "01",             // varint, not bytes
		"7a",                    // truncated tag value
		"7a10cb",                // length past the end
		"ff",                    // bad tag
		"7a1200000000000000000000000000000000" + "6820", // ::
	} {
		b, _ := hex.DecodeString(bad)
		if _, _, err := decodeObserved(b); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// FuzzObservedDecode feeds arbitrary unknown-field bytes to the decoder:
// it never panics, and what it accepts re-encodes to a field that decodes
// the same.
func FuzzObservedDecode(f *testing.F) {
	for _, s := range []string{"", "7a06cb0071076820", "7a1220010db80000000000000000000000076820", "0801", "7a05cb00710768", "ff", "7a06cb00710768207a06010203040506"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ap, ok, err := decodeObserved(b)
		if err != nil || !ok {
			return
		}
		again, ok2, err := decodeObserved(appendObserved(nil, ap))
		if err != nil || !ok2 || again != ap {
			t.Fatalf("%v re-encoded decodes to %v %v %v", ap, again, ok2, err)
		}
	})
}

// TestObservedVectors: the examples of docs/PROTOCOL.md §9.2 are what the
// encoder writes, and decode back.
func TestObservedVectors(t *testing.T) {
	req, err := proto.Marshal(&pb.PexMessage{Msg: &pb.PexMessage_Request{Request: &pb.PexRequest{Max: 32}}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := proto.Marshal(&pb.PexMessage{Msg: &pb.PexMessage_Response{Response: &pb.PexResponse{}}})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	specText := strings.Join(strings.Fields(string(spec)), "")
	for _, v := range []struct {
		msg []byte
		ap  string
	}{{req, "203.0.113.7:26656"}, {resp, "[2001:db8::7]:26656"}} {
		ap := netip.MustParseAddrPort(v.ap)
		b := appendObserved(v.msg, ap)
		h := hex.EncodeToString(b)
		if !strings.Contains(specText, h) {
			t.Errorf("docs/PROTOCOL.md does not quote the PexMessage with observed %s: %s", v.ap, h)
		}
		var m pb.PexMessage
		if err := proto.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := decodeObserved(m.ProtoReflect().GetUnknown()); err != nil || !ok || got != ap {
			t.Fatalf("%s decodes to %v %v %v", h, got, ok, err)
		}
	}
}

// BenchmarkObservedAdd: the cost of one report with maxObservers kept,
// a changed one (a recount) and a repeated one.
func BenchmarkObservedAdd(b *testing.B) {
	now := time.Unix(1_700_000_000, 0)
	me := netip.MustParseAddrPort("203.0.113.7:26656")
	fill := func() *observedVotes {
		v := &observedVotes{}
		for i := range maxObservers {
			v.add(obsID(i), netip.AddrFrom4([4]byte{11, byte(i >> 8), byte(i), 1}), me, true, nil, now)
		}
		return v
	}
	b.Run("changed", func(b *testing.B) {
		v := fill()
		other := netip.MustParseAddrPort("198.51.100.9:1")
		for i := 0; b.Loop(); i++ {
			seen := me
			if i%2 == 0 {
				seen = other
			}
			v.add(obsID(0), netip.MustParseAddr("11.0.0.1"), seen, true, nil, now)
		}
	})
	b.Run("repeated", func(b *testing.B) {
		v := fill()
		for b.Loop() {
			v.add(obsID(0), netip.MustParseAddr("11.0.0.1"), me, true, nil, now)
		}
	})
}

// TestObservedExpiry: a report counts while its observer's connection is
// up, however long that is, and for observedTTL after it ends; a report
// with no connection flag ages from when it was made.
func TestObservedExpiry(t *testing.T) {
	me := netip.MustParseAddrPort("203.0.113.7:26656")
	lie := netip.MustParseAddrPort("198.51.100.9:1")
	start := time.Unix(1_700_000_000, 0)
	const never = time.Duration(-1)
	tests := []struct {
		name   string
		live   bool          // the reports carry a connection flag, set
		downAt time.Duration // when the connections end; never: they stay up
		check  time.Duration // when a newcomer's report makes the node tally
		want   netip.AddrPort
	}{
		{"connected past the TTL", true, never, observedTTL + time.Minute, me},
		{"connected for ten hours", true, never, 10 * time.Hour, me},
		{"disconnected, within the TTL", true, 5 * time.Minute, 5*time.Minute + observedTTL - time.Minute, me},
		{"disconnected, past the TTL", true, 5 * time.Minute, 5*time.Minute + observedTTL + time.Minute, netip.AddrPort{}},
		{"disconnected, expiry counts from the disconnect", true, 2 * time.Hour, 2*time.Hour + observedTTL - time.Minute, me},
		{"no connection flag, past the TTL", false, never, observedTTL + time.Minute, netip.AddrPort{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v observedVotes
			var flags []*atomic.Bool
			for i, o := range []string{"11.1.0.1", "12.1.0.1", "13.1.0.1", "14.1.0.1"} {
				var live *atomic.Bool
				if tt.live {
					live = new(atomic.Bool)
					live.Store(true)
					flags = append(flags, live)
				}
				v.add(obsID(i), netip.MustParseAddr(o), me, true, live, start)
			}
			if got := v.believed(); got != me {
				t.Fatalf("believed %v, want %v", got, me)
			}
			if tt.downAt != never {
				for i, f := range flags {
					f.Store(false)
					v.gone(obsID(i), start.Add(tt.downAt))
				}
			}
			got, _ := v.add(obsID(9), netip.MustParseAddr("15.1.0.1"), lie, true, nil, start.Add(tt.check))
			if got[fam4] != tt.want || v.believed() != tt.want {
				t.Fatalf("at +%v: believed %v (tally %v), want %v", tt.check, v.believed(), got[fam4], tt.want)
			}
			checkVoteCounts(t, &v)
		})
	}
}

// TestObservedEvictsDisconnectedFirst: with maxObservers reports held, a
// new observer pushes out the oldest report of one no longer connected,
// never a connected observer's, however old its report; the reports of
// ended connections keep nothing of them alive.
func TestObservedEvictsDisconnectedFirst(t *testing.T) {
	var v observedVotes
	t0 := time.Unix(1_700_000_000, 0)
	seen := netip.MustParseAddrPort("203.0.113.7:26656")
	observer := netip.MustParseAddr("198.51.100.1")
	connected := &atomic.Bool{}
	connected.Store(true)
	liveID := crypto.ID{0xff}
	v.add(liveID, observer, seen, true, connected, t0) // the oldest report of all
	ended := &atomic.Bool{}
	for i := 1; i < maxObservers; i++ {
		id := crypto.ID{1, byte(i), byte(i >> 8)}
		v.add(id, observer, seen, true, ended, t0.Add(time.Duration(i)*time.Second))
		v.gone(id, t0.Add(time.Duration(i)*time.Second))
	}
	if o := v.byPeer[crypto.ID{1, 1}]; o.live != nil {
		t.Fatal("an ended connection's report still holds its flag")
	}
	v.add(crypto.ID{0xfe}, observer, seen, true, nil, t0.Add(time.Hour))
	if _, ok := v.byPeer[liveID]; !ok {
		t.Fatal("the connected observer's report was evicted")
	}
	if _, ok := v.byPeer[crypto.ID{1, 1}]; ok {
		t.Fatal("the oldest report of an ended connection was kept")
	}
}
