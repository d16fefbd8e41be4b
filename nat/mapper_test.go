package nat

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
)

const waitFor = 10 * time.Second

// countingHandler counts log records by level.
type countingHandler struct {
	mu     sync.Mutex
	counts map[slog.Level]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts == nil {
		h.counts = map[slog.Level]int{}
	}
	h.counts[r.Level]++
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
func (h *countingHandler) count(l slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[l]
}

type rig struct {
	clk   *clock.Fake
	log   *countingHandler
	m     Mapper
	addrs chan netip.AddrPort
}

func newRig(t *testing.T, mode string) *rig {
	t.Helper()
	r := &rig{clk: clock.NewFake(), log: &countingHandler{}, addrs: make(chan netip.AddrPort, 64)}
	m, err := Parse(mode, Config{Clock: r.clk, Logger: slog.New(r.log), Lease: 10 * time.Minute,
		MinBackoff: 5 * time.Second, MaxBackoff: time.Minute, RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r.m = m
	t.Cleanup(func() { m.Close() })
	return r
}

func (r *rig) start(t *testing.T, port uint16) {
	t.Helper()
	if err := r.m.Start(port, func(a netip.AddrPort) { r.addrs <- a }); err != nil {
		t.Fatal(err)
	}
}

// next waits for the next address notify reports.
func (r *rig) next(t *testing.T) netip.AddrPort {
	t.Helper()
	select {
	case a := <-r.addrs:
		return a
	case <-time.After(waitFor):
		t.Fatal("no address change reported")
	}
	return netip.AddrPort{}
}

// armed waits until the mapper's loop has armed its next timer.
func (r *rig) armed(t *testing.T) {
	t.Helper()
	testutil.Eventually(t, waitFor, "the mapper to arm its timer", func() bool { return r.clk.Pending() == 1 })
}

// step advances the clock by d in steps of 1 s, letting each attempt that
// falls due finish before the next step.
func (r *rig) step(t *testing.T, d time.Duration) {
	t.Helper()
	for ; d > 0; d -= time.Second {
		r.armed(t)
		r.clk.Advance(time.Second)
	}
	r.armed(t)
}

func TestUPnPMapRenewRemove(t *testing.T) {
	f := newFakeIGD(t)
	r := newRig(t, "upnp:"+f.rootURL())
	r.start(t, 26656)
	if got, want := r.next(t), netip.MustParseAddrPort("203.0.113.7:26656"); got != want {
		t.Fatalf("external address %v, want %v", got, want)
	}
	mp, ok := f.mapping("26656")
	if !ok || mp.intPort != "26656" || mp.client != "127.0.0.1" || mp.lease != "600" || mp.desc != DefaultDescription {
		t.Fatalf("mapping on the gateway: %+v %v", mp, ok)
	}
	if r.m.External() != netip.MustParseAddrPort("203.0.113.7:26656") {
		t.Fatalf("External() = %v", r.m.External())
	}
	r.armed(t)
	r.clk.Advance(5*time.Minute - time.Second)
	r.armed(t)
	if n := f.count("AddPortMapping"); n != 1 {
		t.Fatalf("renewed before half the lease: %d AddPortMapping calls", n)
	}
	r.clk.Advance(time.Second)
	testutil.Eventually(t, waitFor, "the renewal at half the lease", func() bool { return f.count("AddPortMapping") == 2 })
	r.armed(t)
	if err := r.m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.mapping("26656"); ok || f.count("DeletePortMapping") != 1 {
		t.Fatal("the mapping is still on the gateway after Close")
	}
	if r.m.External().IsValid() {
		t.Fatal("External() after Close is still an address")
	}
	if err := r.m.Start(26656, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v, want ErrClosed", err)
	}
	if r.log.count(slog.LevelWarn) != 0 {
		t.Fatal("warnings logged on the happy path")
	}
}

func TestUPnPRouterRestart(t *testing.T) {
	f := newFakeIGD(t)
	r := newRig(t, "upnp:"+f.rootURL())
	r.start(t, 26656)
	r.next(t)
	r.armed(t)
	f.restart(true) // the router reboots: mappings forgotten, down for a while
	before := f.requestCount()
	r.clk.Advance(5 * time.Minute) // the renewal falls due and fails
	// Six more minutes down: the lease (10 min) runs out on the way.
	r.step(t, 6*time.Minute)
	if got := r.next(t); got.IsValid() {
		t.Fatalf("address after the lease ran out: %v, want none", got)
	}
	// With 5 s doubling to 1 min, 6 minutes hold at most 10 attempts of
	// one request each; a retry loop without backoff would make hundreds.
	if n := f.requestCount() - before; n < 4 || n > 10 {
		t.Fatalf("%d requests while the router was down, want 4..10", n)
	}
	if w := r.log.count(slog.LevelWarn); w != 1 {
		t.Fatalf("%d warnings while the router was down, want 1", w)
	}
	f.setDown(false)
	r.step(t, time.Minute)
	if got, want := r.next(t), netip.MustParseAddrPort("203.0.113.7:26656"); got != want {
		t.Fatalf("address after the router came back: %v, want %v", got, want)
	}
	if _, ok := f.mapping("26656"); !ok {
		t.Fatal("not re-mapped after the router restart")
	}
	if w := r.log.count(slog.LevelWarn); w != 1 {
		t.Fatalf("%d warnings after recovery, want 1", w)
	}
}

func TestUPnPFaultsBackoff(t *testing.T) {
	f := newFakeIGD(t)
	f.setFaults(1 << 20) // the gateway answers every call with a UPnP error
	r := newRig(t, "upnp:"+f.rootURL())
	r.start(t, 26656)
	r.step(t, 3*time.Minute)
	// 0, 5, 15, 35, 75, 135 s: six attempts in 3 minutes.
	if n := f.count("AddPortMapping"); n < 5 || n > 7 {
		t.Fatalf("%d AddPortMapping calls in 3 minutes of faults, want 5..7", n)
	}
	if r.m.External().IsValid() {
		t.Fatal("an address without a mapping")
	}
	f.setFaults(0)
	r.step(t, time.Minute)
	if got := r.next(t); !got.IsValid() {
		t.Fatal("no mapping once the faults stopped")
	}
}

func TestPMPMapRenewRemove(t *testing.T) {
	f := newFakePMP(t)
	r := newRig(t, "pmp:"+f.ip.String())
	r.start(t, 26657)
	if got, want := r.next(t), netip.MustParseAddrPort("198.51.100.9:26657"); got != want {
		t.Fatalf("external address %v, want %v", got, want)
	}
	if mp, ok := f.mapping(26657); !ok || mp.lifetime != 600 || mp.ext != 26657 {
		t.Fatalf("mapping on the gateway: %+v %v", mp, ok)
	}
	r.armed(t)
	f.restart() // the router forgets the mapping
	n := f.count()
	r.clk.Advance(5 * time.Minute)
	testutil.Eventually(t, waitFor, "the renewal", func() bool { _, ok := f.mapping(26657); return ok && f.count() > n })
	r.armed(t)
	if err := r.m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.mapping(26657); ok {
		t.Fatal("the mapping is still on the gateway after Close")
	}
}

func TestExtIPAndNone(t *testing.T) {
	m, err := Parse("extip:203.0.113.50", Config{})
	if err != nil {
		t.Fatal(err)
	}
	var got netip.AddrPort
	if err := m.Start(26656, func(a netip.AddrPort) { got = a }); err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParseAddrPort("203.0.113.50:26656"); got != want || m.External() != want {
		t.Fatalf("extip address %v / %v, want %v", got, m.External(), want)
	}
	m.Close()
	if m.External().IsValid() {
		t.Fatal("extip address after Close")
	}
	for _, mode := range []string{"", "none"} {
		if m, err := Parse(mode, Config{}); m != nil || err != nil {
			t.Fatalf("Parse(%q) = %v, %v; want nil, nil", mode, m, err)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct{ mode, name, err string }{
		{"any", "any", ""},
		{"UPnP", "upnp", ""},
		{"upnp:http://192.168.1.1:5000/rootDesc.xml", "upnp:http://192.168.1.1:5000/rootDesc.xml", ""},
		{"pmp", "pmp", ""},
		{"pmp:192.168.1.1", "pmp:192.168.1.1", ""},
		{"extip:1.2.3.4", "extip:1.2.3.4", ""},
		{"extip:2001:db8::1", "extip:2001:db8::1", ""},
		{"extip", "", "extip: wants"},
		{"extip:0.0.0.0", "", "extip: wants"},
		{"extip:nope", "", "extip: wants"},
		{"pmp:fe80::1", "", "pmp: wants"},
		{"upnp:ftp://x/", "", "upnp: wants"},
		{"none:x", "", "no argument"},
		{"stun", "", "unknown mode"},
	} {
		m, err := Parse(tc.mode, Config{})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "-nat ") {
				t.Errorf("Parse(%q) error %v, want one naming -nat and saying %q", tc.mode, err, tc.err)
			}
			continue
		}
		if err != nil || m.String() != tc.name {
			t.Errorf("Parse(%q) = %v, %v; want %s", tc.mode, m, err, tc.name)
			continue
		}
		m.Close()
	}
}

func TestParseRoutes(t *testing.T) {
	table := "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
		"eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
	for _, tc := range []struct {
		name, in string
		want     string
	}{
		{"default route", table, "192.168.1.1"},
		{"no default route", strings.Join(strings.Split(table, "\n")[:2], "\n"), ""},
		{"default without gateway flag", strings.ReplaceAll(table, "0003", "0001"), ""},
		{"garbage", "x\nyy zz\n\x00", ""},
	} {
		ip, ok := parseRoutes([]byte(tc.in))
		if (tc.want == "") == ok || (ok && ip.String() != tc.want) {
			t.Errorf("%s: got %v %v, want %q", tc.name, ip, ok, tc.want)
		}
	}
}

func FuzzParseRoutes(f *testing.F) {
	f.Add([]byte("Iface\tDestination\tGateway \tFlags\neth0\t00000000\t0101A8C0\t0003\n"))
	f.Add([]byte("h\n a 00000000 zzzzzzzz 3\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, ok := parseRoutes(b)
		if ok && (!ip.Is4() || ip.IsUnspecified()) {
			t.Fatalf("parseRoutes gave %v", ip)
		}
	})
}
