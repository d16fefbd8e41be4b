package mdns

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	hmdns "github.com/hashicorp/mdns"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
)

// inNSEnv tells a re-executed test binary that it runs inside the network
// namespace its parent made.
const inNSEnv = "PEERWIRE_MDNS_TEST_NS"

// inOwnNetns runs the test named name again, as a child process, inside a
// fresh network namespace whose loopback interface carries multicast
// (`ip link set lo multicast on`, a 224.0.0.0/4 route on lo), and reports
// its result; it returns true in that child, which then runs the test
// body. The host's own loopback has no MULTICAST flag (ip -o link: lo
// <LOOPBACK,UP,LOWER_UP>) and is shared with every other test on the
// machine, so the test neither uses nor changes it. It needs root and
// iproute2, and skips otherwise, like the lab.
func inOwnNetns(t *testing.T, name string) bool { return inNetns(t, name, true) }

// inNetns is inOwnNetns; without route, lo carries multicast but the
// namespace has no route to send it by.
func inNetns(t *testing.T, name string, route bool) bool {
	t.Helper()
	if os.Getenv(inNSEnv) != "" {
		return true
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace with multicast on loopback")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip)")
	}
	var r [3]byte
	rand.Read(r[:])
	ns := fmt.Sprintf("pwmdns-%d-%s", os.Getpid(), hex.EncodeToString(r[:]))
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run("-n", ns, "link", "set", "lo", "up")
	run("-n", ns, "link", "set", "lo", "multicast", "on")
	if route {
		run("-n", ns, "route", "add", "224.0.0.0/4", "dev", "lo")
	}
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run", "^"+name+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), inNSEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("in namespace %s: %v\n%s", ns, err, out)
	}
	t.Logf("in namespace %s:\n%s", ns, out)
	return false
}

// answers collects what OnAnswer received, by ID.
type answers struct {
	mu  sync.Mutex
	got map[crypto.ID][]crypto.Address
}

func (a *answers) add(addrs []crypto.Address) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.got == nil {
		a.got = map[crypto.ID][]crypto.Address{}
	}
	a.got[addrs[0].ID] = addrs
}

func (a *answers) of(id crypto.ID) []crypto.Address {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.got[id]
}

func mustAddr(t *testing.T, s string) crypto.Address {
	t.Helper()
	a, err := crypto.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestServicesOnLoopback runs, in one process on a multicast loopback,
// two Services of one network, one of another network and a forger whose
// record names another ID than its instance: the two find each other's
// addresses (and hear themselves, counted apart), never the other
// network's, and refuse the forged record (counted); queries follow the
// injected clock.
func TestServicesOnLoopback(t *testing.T) {
	if !inOwnNetns(t, "TestServicesOnLoopback") {
		return
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake()
	ids := map[string]crypto.ID{}
	for _, n := range []string{"a", "b", "other", "forger"} {
		sum := sha256.Sum256([]byte(n))
		ids[n], _ = crypto.IDFromBytes(sum[:crypto.IDLen])
	}
	addrA := mustAddr(t, ids["a"].String()+"@127.0.0.1:1001")
	addrB := mustAddr(t, ids["b"].String()+"@127.0.0.1:1002")
	addrB6 := mustAddr(t, ids["b"].String()+"@[::1]:1002")
	var gotA, gotB answers
	var roundsA sync.WaitGroup
	roundsA.Add(1)
	var once sync.Once
	start := func(network, name string, adv []crypto.Address, got *answers, onRound func()) *Service {
		s, err := Start(Config{
			NetworkID: network, Self: ids[name], Advertise: adv, Interface: lo,
			Interval: time.Second, QueryTimeout: 300 * time.Millisecond,
			OnAnswer: got.add, OnRound: onRound, Clock: clk,
		})
		if err != nil {
			t.Fatalf("Start %s: %v", name, err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	// The forger answers for the network with a record whose instance is
	// its own ID and whose TXT names B's.
	forged, err := hmdns.NewMDNSService(ids["forger"].String(), ServiceName("lab"), "local.", "forger.local.", 1003,
		[]net.IP{net.IPv4(127, 0, 0, 1)}, []string{addrB.String()})
	if err != nil {
		t.Fatal(err)
	}
	forger, err := hmdns.NewServer(&hmdns.Config{Zone: forged, Iface: lo, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { forger.Shutdown() })
	var otherGot answers
	start("other", "other", []crypto.Address{mustAddr(t, ids["other"].String()+"@127.0.0.1:1004")}, &otherGot, nil)
	b := start("lab", "b", []crypto.Address{addrB, addrB6}, &gotB, nil)
	a := start("lab", "a", []crypto.Address{addrA}, &gotA, func() { once.Do(roundsA.Done) })
	roundsA.Wait() // A's first round ran at Start, before any tick
	ticks := 0
	tick := func() { clk.Advance(time.Second); ticks++ } // the next round of each
	testutil.Eventually(t, 20*time.Second, "A and B hear each other", func() bool {
		if gotA.of(ids["b"]) != nil && gotB.of(ids["a"]) != nil {
			return true
		}
		tick()
		return false
	})
	if got := gotA.of(ids["b"]); len(got) != 2 || got[0] != addrB || got[1] != addrB6 {
		t.Fatalf("A heard B at %v, want %v %v", got, addrB, addrB6)
	}
	if got := gotB.of(ids["a"]); len(got) != 1 || got[0] != addrA {
		t.Fatalf("B heard A at %v", got)
	}
	testutil.Eventually(t, 20*time.Second, "A counts its own answer and refuses the forged one", func() bool {
		st := a.Stats()
		if st.Self > 0 && st.Malformed > 0 {
			return true
		}
		tick()
		return false
	})
	for _, s := range []*answers{&gotA, &gotB} {
		if s.of(ids["other"]) != nil || s.of(ids["forger"]) != nil {
			t.Fatal("heard the other network or the forger")
		}
	}
	if otherGot.of(ids["a"]) != nil || otherGot.of(ids["b"]) != nil {
		t.Fatal("the other network heard this one")
	}
	st := a.Stats()
	t.Logf("A: %+v; B: %+v", st, b.Stats())
	if st.Rounds < 1 || st.QueryErrors != 0 || st.Answers < 1 {
		t.Fatalf("A's stats %+v", st)
	}
	// Rounds follow the injected clock: one at Start, then at most one per
	// tick (a fake ticker holds one pending tick).
	if st.Rounds > uint64(ticks)+1 {
		t.Fatalf("%d rounds for %d ticks", st.Rounds, ticks)
	}
}

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// warnCounter counts the WARN records of a slog handler.
type warnCounter struct {
	mu sync.Mutex
	n  int
}

func (w *warnCounter) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn {
		w.mu.Lock()
		w.n++
		w.mu.Unlock()
	}
	return nil
}
func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnCounter) WithGroup(string) slog.Handler      { return w }
func (w *warnCounter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// TestServiceQueryFails runs a Service where multicast cannot be sent (no
// route): every round counts a query error, nothing is heard, the failure
// is one WARN however many rounds fail, and Close is clean.
func TestServiceQueryFails(t *testing.T) {
	if !inNetns(t, "TestServiceQueryFails", false) {
		return
	}
	clk := clock.NewFake()
	warns := &warnCounter{}
	s, err := Start(Config{
		NetworkID: "lab", Self: crypto.ID{1}, Interval: time.Second, QueryTimeout: 100 * time.Millisecond,
		Clock: clk, Logger: slog.New(warns),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testutil.Eventually(t, 20*time.Second, "three failed rounds", func() bool {
		if st := s.Stats(); st.QueryErrors >= 3 {
			return true
		}
		clk.Advance(time.Second)
		return false
	})
	st := s.Stats()
	if st.Answers != 0 || st.Self != 0 || st.QueryErrors != st.Rounds {
		t.Fatalf("stats %+v", st)
	}
	if w := warns.count(); w != 1 {
		t.Fatalf("%d WARN lines for %d failed rounds, want 1", w, st.QueryErrors)
	}
}
