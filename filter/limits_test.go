package filter

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/clock"
)

func TestCaps(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		addrs []string // acquired in order
		want  []Reason // Acquire result for each
	}{
		{
			name:  "per IP",
			cfg:   Config{MaxPerIP: 2, MaxPerSubnet: -1},
			addrs: []string{"203.0.113.1", "203.0.113.1", "::ffff:203.0.113.1", "203.0.113.2"},
			want:  []Reason{ReasonAllowed, ReasonAllowed, ReasonIPCap, ReasonAllowed},
		},
		{
			name:  "per IPv4 /24",
			cfg:   Config{MaxPerIP: -1, MaxPerSubnet: 3},
			addrs: []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.114.1"},
			want:  []Reason{ReasonAllowed, ReasonAllowed, ReasonAllowed, ReasonSubnetCap, ReasonAllowed},
		},
		{
			name:  "per IPv6 /48",
			cfg:   Config{MaxPerIP: 1, MaxPerSubnet: 2},
			addrs: []string{"2001:db8:1:1::1", "2001:db8:1:2::1", "2001:db8:1:ffff::9", "2001:db8:2::1", "2001:db8:1:1::1"},
			want:  []Reason{ReasonAllowed, ReasonAllowed, ReasonSubnetCap, ReasonAllowed, ReasonIPCap},
		},
		{
			name:  "configured subnet sizes",
			cfg:   Config{MaxPerIP: -1, MaxPerSubnet: 1, IPv4SubnetBits: 16, IPv6SubnetBits: 64},
			addrs: []string{"203.0.1.1", "203.0.200.1", "2001:db8:1:1::1", "2001:db8:1:2::1", "2001:db8:1:1::2"},
			want:  []Reason{ReasonAllowed, ReasonSubnetCap, ReasonAllowed, ReasonAllowed, ReasonSubnetCap},
		},
		{
			name:  "zones ignored",
			cfg:   Config{MaxPerIP: 1},
			addrs: []string{"fe80::1%eth0", "fe80::1%eth1"},
			want:  []Reason{ReasonAllowed, ReasonIPCap},
		},
		{
			name:  "no caps",
			cfg:   Config{MaxPerIP: -1, MaxPerSubnet: -1},
			addrs: []string{"203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.1"},
			want:  []Reason{ReasonAllowed, ReasonAllowed, ReasonAllowed, ReasonAllowed, ReasonAllowed},
		},
		{
			name:  "loopback not exempt by default",
			cfg:   Config{MaxPerIP: 1},
			addrs: []string{"127.0.0.1", "127.0.0.1"},
			want:  []Reason{ReasonAllowed, ReasonIPCap},
		},
		{
			name:  "loopback exempt",
			cfg:   Config{MaxPerIP: 1, MaxPerSubnet: 1, ExemptLoopback: true},
			addrs: []string{"127.0.0.1", "127.0.0.1", "::1", "::1", "10.0.0.1", "10.0.0.1"},
			want:  []Reason{ReasonAllowed, ReasonAllowed, ReasonAllowed, ReasonAllowed, ReasonAllowed, ReasonIPCap},
		},
		{
			name:  "private exempt",
			cfg:   Config{MaxPerIP: 1, ExemptPrivate: true},
			addrs: []string{"10.0.0.1", "10.0.0.1", "fd00::1", "fd00::1", "127.0.0.1", "127.0.0.1"},
			want:  []Reason{ReasonAllowed, ReasonAllowed, ReasonAllowed, ReasonAllowed, ReasonAllowed, ReasonIPCap},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.AttemptInterval = -1
			f := newTestFilter(t, tt.cfg)
			var releases []func()
			for i, s := range tt.addrs {
				a := addr(s)
				// Outbound and Inbound Check see the cap before Acquire does;
				// PEX never does.
				pre := f.Check(a, Outbound)
				if in := f.Check(a, Inbound); in.Reason != pre.Reason {
					t.Errorf("%s: inbound %v, outbound %v", s, in, pre)
				}
				if p := f.Check(a, PEX); p.Reason != ReasonAllowed {
					t.Errorf("%s: PEX %v", s, p)
				}
				rel, d := f.Acquire(a)
				if d.Reason != tt.want[i] || pre.Reason != tt.want[i] {
					t.Errorf("step %d %s: Check %v, Acquire %v, want %v", i, s, pre, d, tt.want[i])
				}
				releases = append(releases, rel)
			}
			for _, rel := range releases {
				rel()
				rel() // idempotent
			}
			if s := f.Stats(); s.Connected != 0 || s.ConnectedIPs != 0 || s.ConnectedSubnets != 0 {
				t.Errorf("after release: %+v", s)
			}
		})
	}
}

func TestCapsReleaseAndExempt(t *testing.T) {
	f := newTestFilter(t, Config{MaxPerIP: 1, MaxPerSubnet: 3, AttemptInterval: -1})
	a, b := addr("203.0.113.1"), addr("203.0.113.2")

	relA, d := f.Acquire(a)
	if !d.Allowed() {
		t.Fatal(d)
	}
	// A must-connect peer from the same IP is admitted past the cap and
	// counts towards what others see.
	relExempt := f.AcquireExempt(a)
	if d := f.Check(b, Outbound); !d.Allowed() {
		t.Fatalf("b before: %v", d)
	}
	relB, d := f.Acquire(b)
	if !d.Allowed() {
		t.Fatal(d)
	}
	if d := f.Check(addr("203.0.113.3"), Outbound); d.Reason != ReasonSubnetCap {
		t.Errorf("subnet full: %v", d)
	}
	s := f.Stats()
	if s.Connected != 3 || s.ConnectedIPs != 2 || s.ConnectedSubnets != 1 {
		t.Errorf("stats %+v", s)
	}
	relA()
	if _, d := f.Acquire(a); d.Reason != ReasonIPCap {
		t.Errorf("exempt peer still counts: %v", d)
	}
	relExempt()
	relB()
	rel, d := f.Acquire(a)
	if !d.Allowed() {
		t.Errorf("after release: %v", d)
	}
	rel()
	// Deny rules still apply to must-connect peers through CheckRules.
	g := newTestFilter(t, Config{DenyCIDRs: []string{"203.0.113.0/24"}})
	if d := g.CheckRules(a); d.Reason != ReasonCIDRDenied {
		t.Errorf("CheckRules: %v", d)
	}
	if rel, d := f.Acquire(netip.Addr{}); d.Reason != ReasonInvalidAddress || rel == nil {
		t.Errorf("invalid: %v", d)
	}
	if n := f.Stats().Refused[ReasonIPCap]; n != 1 {
		t.Errorf("refused ip-cap = %d", n)
	}
}

// TestCapsConcurrent checks that concurrent Acquire calls never overshoot a
// cap: the check and the count are one step.
func TestCapsConcurrent(t *testing.T) {
	f := newTestFilter(t, Config{MaxPerIP: 3, MaxPerSubnet: 5})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var admitted []func()
	for i := range 64 {
		wg.Go(func() {
			a := netip.AddrFrom4([4]byte{203, 0, 113, byte(i % 4)})
			if rel, d := f.Acquire(a); d.Allowed() {
				mu.Lock()
				admitted = append(admitted, rel)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(admitted) != 5 {
		t.Errorf("admitted %d, want 5", len(admitted))
	}
	for _, rel := range admitted {
		rel()
	}
}

func TestThrottle(t *testing.T) {
	clk := clock.NewFake()
	f := newTestFilter(t, Config{AttemptInterval: 10 * time.Second, AttemptBurst: 3}, Deps{Clock: clk})
	a := addr("203.0.113.9")
	mapped := addr("::ffff:203.0.113.9")
	steps := []struct {
		advance time.Duration
		addr    netip.Addr
		dir     Direction
		want    Reason
	}{
		{0, a, Inbound, ReasonAllowed},
		{0, mapped, Inbound, ReasonAllowed}, // same IP
		{0, a, Inbound, ReasonAllowed},
		{0, a, Inbound, ReasonThrottled}, // burst of 3 spent
		{0, mapped, Inbound, ReasonThrottled},
		{0, a, Outbound, ReasonAllowed}, // dials are not throttled
		{0, a, PEX, ReasonAllowed},
		{0, addr("203.0.113.10"), Inbound, ReasonAllowed}, // other IPs unaffected
		{9 * time.Second, a, Inbound, ReasonThrottled},
		{time.Second, a, Inbound, ReasonAllowed}, // one token after 10 s
		{0, a, Inbound, ReasonThrottled},
		{time.Hour, a, Inbound, ReasonAllowed}, // refilled to the burst
		{0, a, Inbound, ReasonAllowed},
		{0, a, Inbound, ReasonAllowed},
		{0, a, Inbound, ReasonThrottled},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		if got := f.Check(st.addr, st.dir); got.Reason != st.want {
			t.Fatalf("step %d: Check(%v, %v) = %v, want %v", i, st.addr, st.dir, got, st.want)
		}
	}
	s := f.Stats()
	if got := s.Count(Inbound, ReasonThrottled); got != 5 {
		t.Errorf("throttled count %d, want 5", got)
	}
	if got := s.Count(Outbound, ReasonAllowed); got != 1 {
		t.Errorf("outbound allowed count %d, want 1", got)
	}
}

func TestThrottleExemptions(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		addr      string
		throttled bool
	}{
		{"loopback by default", Config{}, "127.0.0.1", true},
		{"private by default", Config{}, "192.168.1.1", true},
		{"loopback exempt", Config{ExemptLoopback: true}, "127.0.0.1", false},
		{"IPv6 loopback exempt", Config{ExemptLoopback: true}, "::1", false},
		{"private not exempt by loopback flag", Config{ExemptLoopback: true}, "10.0.0.1", true},
		{"private exempt", Config{ExemptPrivate: true}, "172.16.0.1", false},
		{"ULA exempt", Config{ExemptPrivate: true}, "fd12::1", false},
		{"public never exempt", Config{ExemptLoopback: true, ExemptPrivate: true}, "203.0.113.1", true},
		{"throttle off", Config{AttemptInterval: -1}, "203.0.113.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake()
			tt.cfg.AttemptBurst = 2
			tt.cfg.MaxPerIP, tt.cfg.MaxPerSubnet = -1, -1
			f := newTestFilter(t, tt.cfg, Deps{Clock: clk})
			throttled := false
			for range 10 {
				if f.Check(addr(tt.addr), Inbound).Reason == ReasonThrottled {
					throttled = true
				}
			}
			if throttled != tt.throttled {
				t.Errorf("throttled = %v, want %v", throttled, tt.throttled)
			}
		})
	}
}

// TestThrottleBounded floods the throttle with more addresses than it may
// track and checks the table stays bounded, idle entries go first, and a
// busy address keeps its state while there is room.
func TestThrottleBounded(t *testing.T) {
	clk := clock.NewFake()
	f := newTestFilter(t, Config{AttemptInterval: time.Second, AttemptBurst: 2, MaxTrackedIPs: 100}, Deps{Clock: clk})
	busy := addr("198.51.100.1")
	f.Check(busy, Inbound)
	f.Check(busy, Inbound)
	if f.Check(busy, Inbound).Reason != ReasonThrottled {
		t.Fatal("busy address not throttled")
	}
	// 98 more addresses fill the table to 99 entries.
	for i := range 98 {
		f.Check(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), Inbound)
	}
	// Once they are idle (buckets full again), a new flood sweeps them, not
	// the busy one, which keeps being hit.
	clk.Advance(3 * time.Second)
	f.Check(busy, Inbound)
	f.Check(busy, Inbound)
	for i := range 50 {
		f.Check(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), Inbound)
	}
	if f.Check(busy, Inbound).Reason != ReasonThrottled {
		t.Error("busy address lost its state to idle entries")
	}
	// A flood of fresh addresses without pause evicts, but never grows the
	// table past its bound.
	for i := range 10000 {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i), 14: byte(i >> 8)})
		f.Check(a, Inbound)
		if i%1000 == 0 {
			if n := f.Stats().ThrottleTracked; n > 100 {
				t.Fatalf("tracking %d addresses, bound 100", n)
			}
		}
	}
	s := f.Stats()
	if s.ThrottleTracked > 100 || s.ThrottleSwept < 98 || s.ThrottleEvicted == 0 {
		t.Errorf("tracked %d swept %d evicted %d", s.ThrottleTracked, s.ThrottleSwept, s.ThrottleEvicted)
	}
}

// TestCheckOrder checks which reason wins when several apply.
func TestCheckOrder(t *testing.T) {
	clk := clock.NewFake()
	f := newTestFilter(t, Config{
		CountryDB: testDB(t), DenyCountries: []string{"DE"}, DenyCIDRs: []string{"127.0.9.0/24"},
		MaxPerIP: 1, AttemptBurst: 1, AttemptInterval: time.Minute,
	}, Deps{Clock: clk})
	us := addr("127.0.2.1")
	rel, _ := f.Acquire(us)
	defer rel()
	for i, st := range []struct {
		addr netip.Addr
		dir  Direction
		want Decision
	}{
		{us, Inbound, Decision{ReasonIPCap, "US"}},     // throttle passes (first attempt), cap full
		{us, Inbound, Decision{ReasonThrottled, "US"}}, // throttle before caps
		{us, Outbound, Decision{ReasonIPCap, "US"}},
		{us, PEX, Decision{ReasonAllowed, "US"}},
		{addr("127.0.1.1"), Inbound, Decision{ReasonCountryDenied, "DE"}}, // rules first
		{addr("127.0.9.1"), Inbound, Decision{Reason: ReasonCIDRDenied}},
		{addr("127.0.1.1"), Direction(42), Decision{ReasonCountryDenied, "DE"}}, // unknown dir → inbound
	} {
		if got := f.Check(st.addr, st.dir); got != st.want {
			t.Errorf("step %d: Check(%v, %v) = %v, want %v", i, st.addr, st.dir, got, st.want)
		}
	}
	if n := f.Stats().Count(Inbound, ReasonCountryDenied); n != 2 {
		t.Errorf("inbound country-denied %d, want 2", n)
	}
}

func ExampleFilter_Acquire() {
	f, err := New(Config{MaxPerIP: 1}, Deps{})
	if err != nil {
		panic(err)
	}
	defer f.Close()
	peer := netip.MustParseAddr("203.0.113.5")
	release, d := f.Acquire(peer) // after the handshake
	fmt.Println(d)
	_, d = f.Acquire(peer)
	fmt.Println(d)
	release() // on disconnect
	fmt.Println(f.Check(peer, Outbound))
	// Output:
	// allowed
	// ip-cap
	// allowed
}
