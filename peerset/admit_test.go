package peerset

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

func TestAdmitLimits(t *testing.T) {
	tests := []struct {
		name          string
		maxIn, maxOut int
		dir           Direction
		admitted      int // of 5 attempts
	}{
		{"inbound cap", 3, 10, Inbound, 3},
		{"outbound cap", 10, 2, Outbound, 2},
		{"no inbound", -1, 10, Inbound, 0},
		{"no outbound", 10, -1, Outbound, 0},
		{"inbound room", 10, 1, Inbound, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newSet(t, Config{MaxInbound: tt.maxIn, MaxOutbound: tt.maxOut})
			for i := 1; i <= 5; i++ {
				p, replaced, err := s.Admit(info(i, tt.dir), clk.Now())
				if i <= tt.admitted {
					if err != nil || p == nil || replaced != nil {
						t.Fatalf("peer %d: Admit = %v, %v, %v", i, p, replaced, err)
					}
					continue
				}
				if p != nil || !errors.Is(err, ErrTooManyPeers) || ReasonOf(err) != ReasonTooManyPeers {
					t.Fatalf("peer %d: Admit = %v, %v; want too-many-peers", i, p, err)
				}
				if !strings.Contains(err.Error(), tt.dir.String()) {
					t.Errorf("error %q does not say which direction is full", err)
				}
			}
			c := s.Counts()
			in, out := c.InboundSlots, c.OutboundSlots
			if tt.dir == Inbound && (in != tt.admitted || out != 0) || tt.dir == Outbound && (out != tt.admitted || in != 0) {
				t.Errorf("counts %+v, want %d %v", c, tt.admitted, tt.dir)
			}
			if s.Len() != tt.admitted {
				t.Errorf("Len = %d", s.Len())
			}
		})
	}
}

func TestAdmitRefusals(t *testing.T) {
	s, clk := newSet(t, Config{})
	now := clk.Now()
	zero := info(1, Inbound)
	zero.ID = crypto.ID{}
	noDir := info(1, 0)
	noAddr := info(1, Inbound)
	noAddr.Remote = netip.AddrPort{}
	self := info(1, Inbound)
	self.ID = selfID
	tests := []struct {
		name   string
		in     PeerInfo
		reason DisconnectReason
		err    error
	}{
		{"zero ID", zero, ReasonInvalid, ErrInvalid},
		{"no direction", noDir, ReasonInvalid, ErrInvalid},
		{"invalid remote", noAddr, ReasonInvalid, ErrInvalid},
		{"self", self, ReasonSelf, ErrSelf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _, err := s.Admit(tt.in, now)
			var re *RefusedError
			if p != nil || !errors.As(err, &re) || re.Reason != tt.reason || !errors.Is(err, tt.err) {
				t.Fatalf("Admit = %v, %v; want %v", p, err, tt.reason)
			}
		})
	}
	if s.Len() != 0 {
		t.Fatalf("Len = %d after refusals", s.Len())
	}

	// A connection that arrives after Close is refused with shutdown.
	p := mustAdmit(t, s, info(1, Inbound), now)
	closed := s.Close()
	if len(closed) != 1 || closed[0] != p {
		t.Fatalf("Close = %v", closed)
	}
	if again := s.Close(); again != nil {
		t.Fatalf("second Close = %v", again)
	}
	if _, _, err := s.Admit(info(2, Inbound), now); ReasonOf(err) != ReasonShutdown || !errors.Is(err, ErrClosed) {
		t.Fatalf("Admit after Close: %v", err)
	}
	if err := s.CheckDial(pid(3), addrOf(3).Addr(), now); ReasonOf(err) != ReasonShutdown {
		t.Fatalf("CheckDial after Close: %v", err)
	}
	if s.Remove(p) {
		t.Fatal("Remove after Close found the peer")
	}
}

func TestAdmitUnmapsAndKeepsInfo(t *testing.T) {
	s, clk := newSet(t, Config{})
	in := info(1, Outbound)
	in.Remote = netip.MustParseAddrPort("[::ffff:192.0.2.7]:26656")
	in.Meta = "meta"
	p := mustAdmit(t, s, in, clk.Now())
	if p.Remote.String() != "192.0.2.7:26656" || p.Meta != "meta" || p.Conn != in.Conn || !p.ConnectedAt.Equal(t0) {
		t.Fatalf("peer = %+v", p)
	}
	st, ok := s.Get(pid(1))
	if !ok || st.Peer != p || st.Direction != Outbound || st.MustConnect || st.Score != 0 {
		t.Fatalf("Get = %+v, %v", st, ok)
	}
	if _, ok := s.Get(pid(2)); ok {
		t.Fatal("Get of an unknown peer succeeded")
	}
}

func TestCounterCaps(t *testing.T) {
	ip := func(s string, port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(s), port) }
	tests := []struct {
		name          string
		maxIP, maxSub int
		remotes       []netip.AddrPort
		refusedAt     int // index refused, -1 for none
		why           string
	}{
		{"per-IP", 2, 0, []netip.AddrPort{ip("198.51.100.1", 1), ip("198.51.100.1", 2), ip("198.51.100.1", 3)}, 2, "ip-cap"},
		{"per-subnet", 0, 2, []netip.AddrPort{ip("198.51.100.1", 1), ip("198.51.100.2", 1), ip("198.51.100.3", 1)}, 2, "subnet-cap"},
		{"other subnet", 1, 1, []netip.AddrPort{ip("198.51.100.1", 1), ip("198.51.101.1", 1), ip("2001:db8::1", 1)}, -1, ""},
		{"mapped is the same IP", 1, 0, []netip.AddrPort{ip("198.51.100.1", 1), ip("::ffff:198.51.100.1", 2)}, 1, "ip-cap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctr := newCounter(tt.maxIP, tt.maxSub)
			s, clk := newSetWith(t, Config{}, Deps{Counter: ctr})
			var admitted []*Peer
			for i, r := range tt.remotes {
				in := info(i+1, Inbound)
				in.Remote = r
				p, _, err := s.Admit(in, clk.Now())
				if i == tt.refusedAt {
					if ReasonOf(err) != ReasonAddressCap || !errors.Is(err, ErrAddressCap) || !strings.Contains(err.Error(), tt.why) {
						t.Fatalf("remote %v: Admit err = %v, want address-cap %s", r, err, tt.why)
					}
					// Removing a peer releases its count: the refused one gets in.
					if !s.Remove(admitted[0]) {
						t.Fatal("Remove failed")
					}
					p = mustAdmit(t, s, in, clk.Now())
				} else if err != nil {
					t.Fatalf("remote %v: %v", r, err)
				}
				admitted = append(admitted, p)
			}
			if got := ctr.total(); got != s.Len() {
				t.Fatalf("counter holds %d, set has %d", got, s.Len())
			}
			for _, p := range s.Close() {
				_ = p.Disconnect(ReasonShutdown, "")
			}
			if got := ctr.total(); got != 0 {
				t.Fatalf("counter holds %d after Close", got)
			}
		})
	}
}

// TestCapsReleased checks that every way out of the Set releases the
// Counter's count, and that a stale Peer's Remove does not.
func TestCapsReleased(t *testing.T) {
	ctr := newCounter(0, 0)
	s, clk := newSetWith(t, Config{HighWatermark: 2, LowWatermark: 1, GracePeriod: -1}, Deps{Counter: ctr})
	now := clk.Now()
	a := mustAdmit(t, s, info(1, Inbound), now)
	mustAdmit(t, s, info(2, Inbound), now)
	mustAdmit(t, s, info(3, Inbound), now)
	if ctr.total() != 3 {
		t.Fatalf("counted %d", ctr.total())
	}
	if v := s.Trim(now); len(v) != 2 || ctr.total() != 1 {
		t.Fatalf("Trim removed %d, counter %d", len(v), ctr.total())
	}
	remaining := s.Peers()[0].ID
	if _, err := s.Ban(remaining, time.Hour, "test"); err != nil || ctr.total() != 0 {
		t.Fatalf("Ban: %v, counter %d", err, ctr.total())
	}
	// Duplicate replacement releases the old count and takes a new one.
	b := mustAdmit(t, s, info(4, Inbound), now)
	b2, replaced, err := s.Admit(info(4, Inbound), now)
	if err != nil || replaced != b || ctr.total() != 1 {
		t.Fatalf("duplicate: %v, replaced %v, counter %d", err, replaced, ctr.total())
	}
	if s.Remove(b) || s.Remove(a) || ctr.total() != 1 {
		t.Fatalf("Remove of a stale peer changed the count to %d", ctr.total())
	}
	if !s.Remove(b2) || ctr.total() != 0 || s.Remove(b2) {
		t.Fatalf("Remove: counter %d", ctr.total())
	}
	// A refused Admit leaves no count behind.
	ctr.maxIP = 1
	mustAdmit(t, s, info(5, Inbound), now)
	in := info(6, Inbound)
	in.Remote = addrOf(5)
	if _, _, err := s.Admit(in, now); ReasonOf(err) != ReasonAddressCap || ctr.total() != 1 {
		t.Fatalf("Admit = %v, counter %d", err, ctr.total())
	}
}

func TestGroup(t *testing.T) {
	tests := []struct{ ip, want string }{
		{"198.51.100.7", "198.51.0.0/16"},
		{"::ffff:198.51.100.7", "198.51.0.0/16"},
		{"2001:db8:1234::1", "2001:db8::/32"},
		{"fe80::1%eth0", "fe80::/32"},
		{"127.0.0.1", "127.0.0.0/16"},
	}
	for _, tt := range tests {
		if got := Group(netip.MustParseAddr(tt.ip)); got.String() != tt.want {
			t.Errorf("Group(%s) = %v, want %s", tt.ip, got, tt.want)
		}
	}
	if g := Group(netip.Addr{}); g.IsValid() {
		t.Errorf("Group(invalid) = %v", g)
	}
	if n := testing.AllocsPerRun(100, func() { Group(netip.MustParseAddr("2001:db8::1")) }); n != 0 {
		t.Errorf("Group allocates %v times", n)
	}
}

func TestOutboundGroups(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name     string
		perGroup int
		dirs     []Direction
		remotes  []netip.AddrPort
		refused  []bool
	}{
		{"same /16 refused", 0, []Direction{Outbound, Outbound, Outbound},
			[]netip.AddrPort{ap("198.51.1.1:1"), ap("198.51.200.9:1"), ap("198.52.1.1:1")}, []bool{false, true, false}},
		{"mapped IPv4 same group", 0, []Direction{Outbound, Outbound},
			[]netip.AddrPort{ap("198.51.1.1:1"), ap("[::ffff:198.51.7.7]:1")}, []bool{false, true}},
		{"IPv6 /32", 0, []Direction{Outbound, Outbound, Outbound},
			[]netip.AddrPort{ap("[2001:db8:1::1]:1"), ap("[2001:db8:ffff::1]:1"), ap("[2001:db9::1]:1")}, []bool{false, true, false}},
		{"inbound not grouped", 0, []Direction{Outbound, Inbound, Inbound},
			[]netip.AddrPort{ap("198.51.1.1:1"), ap("198.51.1.2:1"), ap("198.51.1.3:1")}, []bool{false, false, false}},
		{"two per group", 2, []Direction{Outbound, Outbound, Outbound},
			[]netip.AddrPort{ap("198.51.1.1:1"), ap("198.51.1.2:1"), ap("198.51.1.3:1")}, []bool{false, false, true}},
		{"no limit", -1, []Direction{Outbound, Outbound, Outbound},
			[]netip.AddrPort{ap("127.0.0.1:1"), ap("127.0.0.1:2"), ap("127.0.0.1:3")}, []bool{false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk := newSet(t, Config{MaxOutboundPerGroup: tt.perGroup})
			for i, r := range tt.remotes {
				in := info(i+1, tt.dirs[i])
				in.Remote = r
				checkErr := error(nil)
				if tt.dirs[i] == Outbound {
					checkErr = s.CheckDial(in.ID, r.Addr(), clk.Now())
				}
				_, _, err := s.Admit(in, clk.Now())
				if tt.refused[i] {
					if ReasonOf(err) != ReasonNetworkGroup || !errors.Is(err, ErrNetworkGroup) {
						t.Fatalf("%v: Admit err = %v, want network-group", r, err)
					}
					if ReasonOf(checkErr) != ReasonNetworkGroup {
						t.Fatalf("%v: CheckDial = %v, want network-group", r, checkErr)
					}
				} else if err != nil || checkErr != nil {
					t.Fatalf("%v: Admit %v, CheckDial %v", r, err, checkErr)
				}
			}
		})
	}
}

func TestGroupFreedOnRemove(t *testing.T) {
	s, clk := newSet(t, Config{})
	a := info(1, Outbound)
	b := info(2, Outbound)
	b.Remote = netip.AddrPortFrom(netip.MustParseAddr("20.1.99.99"), 1) // same 20.1/16 as pid(1)
	p := mustAdmit(t, s, a, clk.Now())
	if _, _, err := s.Admit(b, clk.Now()); ReasonOf(err) != ReasonNetworkGroup {
		t.Fatalf("Admit = %v", err)
	}
	s.Remove(p)
	mustAdmit(t, s, b, clk.Now())
	if len(s.mu.groups) != 1 {
		t.Fatalf("groups = %v", s.mu.groups)
	}
}

func TestCheckDial(t *testing.T) {
	s, clk := newSet(t, Config{MaxOutbound: 1})
	now := clk.Now()
	if err := s.CheckDial(selfID, netip.Addr{}, now); ReasonOf(err) != ReasonSelf {
		t.Errorf("self: %v", err)
	}
	mustAdmit(t, s, info(1, Inbound), now)
	if err := s.CheckDial(pid(1), addrOf(1).Addr(), now); ReasonOf(err) != ReasonDuplicate {
		t.Errorf("connected: %v", err)
	}
	if err := s.CheckDial(pid(2), addrOf(2).Addr(), now); err != nil {
		t.Errorf("free: %v", err)
	}
	if err := s.CheckDial(crypto.ID{}, netip.Addr{}, now); err != nil {
		t.Errorf("unknown ID and host: %v", err)
	}
	mustAdmit(t, s, info(2, Outbound), now)
	if err := s.CheckDial(pid(3), addrOf(3).Addr(), now); ReasonOf(err) != ReasonTooManyPeers {
		t.Errorf("full: %v", err)
	}
	if err := s.AddMustConnect(mustAddr(3)); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckDial(pid(3), addrOf(2).Addr(), now); err != nil {
		t.Errorf("must-connect when full and same group: %v", err)
	}
	if _, err := s.Ban(pid(4), time.Minute, "x"); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckDial(pid(4), addrOf(4).Addr(), now); ReasonOf(err) != ReasonBanned {
		t.Errorf("banned: %v", err)
	}
}

func TestRemoveStale(t *testing.T) {
	s, clk := newSet(t, Config{})
	p := mustAdmit(t, s, info(1, Inbound), clk.Now())
	if !s.Remove(p) || s.Remove(p) || s.Remove(nil) {
		t.Fatal("Remove is not exactly-once")
	}
	p2 := mustAdmit(t, s, info(1, Inbound), clk.Now())
	if s.Remove(p) {
		t.Fatal("a stale Peer removed its successor")
	}
	if st, ok := s.Get(pid(1)); !ok || st.Peer != p2 {
		t.Fatal("successor gone")
	}
}

func TestCounts(t *testing.T) {
	s, clk := newSet(t, Config{MustConnect: []crypto.Address{mustAddr(10), mustAddr(11)}})
	now := clk.Now()
	mustAdmit(t, s, info(1, Inbound), now)
	mustAdmit(t, s, info(2, Outbound), now)
	mustAdmit(t, s, info(3, Outbound), now)
	mustAdmit(t, s, info(10, Inbound), now)
	if _, err := s.Ban(pid(20), time.Hour, ""); err != nil {
		t.Fatal(err)
	}
	s.Report(pid(21), -5, "")
	want := Counts{Inbound: 2, Outbound: 2, InboundSlots: 1, OutboundSlots: 2, MustConnectUp: 1, MustConnectTotal: 2, Remembered: 1}
	if got := s.Counts(); got != want {
		t.Fatalf("Counts = %+v, want %+v", got, want)
	}
	if n := bansOf(s).inForce(); n != 1 {
		t.Fatalf("bans in the ban list: %d, want 1", n)
	}
	peers := s.Peers()
	if len(peers) != 4 || peers[0].ID != pid(1) || peers[3].ID != pid(10) || !peers[3].MustConnect {
		t.Fatalf("Peers = %+v", peers)
	}
	// Must-connect peers by direction follow admissions, removals,
	// promotions and demotions.
	p11 := mustAdmit(t, s, info(11, Outbound), now)
	steps := []struct {
		name string
		do   func()
		in   int
		out  int
	}{
		{"must outbound admitted", func() {}, 2, 3},
		{"inbound promoted", func() { _ = s.AddMustConnect(mustAddr(1)) }, 2, 3},
		{"must outbound removed", func() { s.Remove(p11) }, 2, 2},
		{"must inbound demoted", func() { s.RemoveMustConnect(pid(10)) }, 2, 2},
		{"promoted inbound removed", func() { p, _ := s.Get(pid(1)); s.Remove(p.Peer) }, 1, 2},
	}
	for _, st := range steps {
		st.do()
		c := s.Counts()
		slots, must := 0, 0
		for _, p := range s.Peers() {
			if p.MustConnect {
				must++
			} else {
				slots++
			}
		}
		if c.Inbound != st.in || c.Outbound != st.out || c.Inbound+c.Outbound != slots+must || c.MustConnectUp != must {
			t.Fatalf("%s: Counts = %+v, want %d inbound and %d outbound (%d peers, %d must-connect)", st.name, c, st.in, st.out, slots+must, must)
		}
	}
}
