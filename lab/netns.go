// Package lab is the reliability lab: it builds hosts as Linux network
// namespaces on a bridge that lives in a namespace of its own, runs real
// node processes inside them, and injects faults (netem delay and loss,
// partitions, SIGKILL). Nothing outside the lab has a route to its
// addresses: the bridge namespace has no uplink and the hosts have no
// default route, so traffic stays inside the lab's namespaces.
//
// It needs root and iproute2 (ip, tc); New skips the test otherwise.
package lab

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Prefix starts the name of every namespace the lab creates. A name is
// Prefix-<pid>-<random>-<role>, so a sweep can tell stale namespaces (their
// pid is gone) from those of a run in progress.
const Prefix = "pwlab"

// Lab is a set of hosts on one bridge. Its methods are safe for concurrent
// use once New returns.
type Lab struct {
	t      testing.TB
	run    string // Prefix-<pid>-<random>
	Bridge string // the bridge namespace
	Hosts  []*Host

	mu        sync.Mutex
	isolated  map[int]bool // hosts moved to the second bridge
	extraSeen map[netip.Addr]bool
}

// Host is one network namespace with one interface (eth0) on the bridge.
type Host struct {
	lab   *Lab
	Index int
	// NS is the namespace name (ip netns exec NS ...).
	NS string
	// Addr is the host's lab address, 198.18.<Index+1>.1 on a /15: every
	// host sits in its own /24 (so per-subnet caps and country rules can
	// tell them apart) and all share one L2 segment.
	Addr netip.Addr
	port string    // bridge-side veth name
	emu  *emulator // userspace link emulator, when Impair needed one
}

// HostAddr is the address New gives host i.
func HostAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18, byte(i + 1), 1})
}

// Available reports why the lab cannot run here, or "" when it can.
func Available() string {
	if os.Geteuid() != 0 {
		return "lab: needs root to create network namespaces"
	}
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "lab: " + tool + " not found (apt-get install -y iproute2)"
		}
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		return fmt.Sprintf("lab: ip netns unavailable: %v %s", err, bytes.TrimSpace(out))
	}
	return ""
}

// Require skips t when the lab cannot run here.
func Require(t testing.TB) {
	t.Helper()
	if why := Available(); why != "" {
		t.Skip(why)
	}
}

// New builds k hosts on a fresh bridge and removes them when t ends,
// whether it passes or fails. It skips t when the lab cannot run here.
func New(t testing.TB, k int) *Lab {
	t.Helper()
	Require(t)
	if k < 1 || k > 250 {
		t.Fatalf("lab: %d hosts: want 1-250", k)
	}
	SweepStale()
	var r [3]byte
	rand.Read(r[:])
	l := &Lab{t: t, run: fmt.Sprintf("%s-%d-%s", Prefix, os.Getpid(), hex.EncodeToString(r[:])),
		isolated: map[int]bool{}, extraSeen: map[netip.Addr]bool{}}
	l.Bridge = l.run + "-br"
	t.Cleanup(l.destroy)
	l.must("ip", "netns", "add", l.Bridge)
	l.must("ip", "-n", l.Bridge, "link", "set", "lo", "up")
	for _, br := range []string{"br0", "br1"} {
		l.must("ip", "-n", l.Bridge, "link", "add", br, "type", "bridge")
		l.must("ip", "-n", l.Bridge, "link", "set", br, "up")
	}
	for i := 0; i < k; i++ {
		h := &Host{lab: l, Index: i, NS: fmt.Sprintf("%s-h%d", l.run, i), Addr: HostAddr(i), port: fmt.Sprintf("p%d", i)}
		l.must("ip", "netns", "add", h.NS)
		l.must("ip", "-n", l.Bridge, "link", "add", h.port, "type", "veth", "peer", "name", "eth0", "netns", h.NS)
		l.must("ip", "-n", l.Bridge, "link", "set", h.port, "master", "br0", "up")
		l.must("ip", "-n", h.NS, "link", "set", "lo", "up")
		l.must("ip", "-n", h.NS, "addr", "add", h.Addr.String()+"/15", "dev", "eth0")
		l.must("ip", "-n", h.NS, "link", "set", "eth0", "up")
		l.Hosts = append(l.Hosts, h)
	}
	l.waitLinks()
	return l
}

// linkReadyWithin bounds how long New waits for the hosts' cables to come
// up. The kernel reports a veth's carrier through its link watcher, which
// may take up to a second per batch of events, and longer on a loaded
// machine; until then the bridge port drops what it is given.
const linkReadyWithin = 30 * time.Second

// waitLinks waits until every host's eth0 and its bridge port are up and
// the port forwards: a host that dials before that loses its SYN and
// waits a whole retransmission timeout (1 s), longer than some tests'
// dial bounds.
func (l *Lab) waitLinks() {
	l.t.Helper()
	deadline := time.Now().Add(linkReadyWithin)
	for _, h := range l.Hosts {
		for !h.linkReady() {
			if time.Now().After(deadline) {
				l.t.Fatalf("lab: the link of %s is not up after %v", h.NS, linkReadyWithin)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// linkReady reports whether the host's eth0 is up and its bridge port is
// up and forwarding.
func (h *Host) linkReady() bool {
	host, err := exec.Command("ip", "-n", h.NS, "-o", "link", "show", "eth0").Output()
	if err != nil || !bytes.Contains(host, []byte(" state UP ")) {
		return false
	}
	port, err := exec.Command("ip", "-n", h.lab.Bridge, "-d", "-o", "link", "show", h.port).Output()
	return err == nil && bytes.Contains(port, []byte(" state UP ")) && bytes.Contains(port, []byte("bridge_slave state forwarding"))
}

// must runs an ip/tc command and fails the test if it fails.
func (l *Lab) must(args ...string) {
	l.t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		l.t.Fatalf("lab: %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

func (l *Lab) destroy() {
	for _, h := range l.Hosts {
		exec.Command("ip", "netns", "del", h.NS).Run()
	}
	exec.Command("ip", "netns", "del", l.Bridge).Run()
	// A host whose creation failed half-way is not in Hosts.
	deleteMatching(func(name string) bool { return strings.HasPrefix(name, l.run+"-") })
}

// SweepStale deletes lab namespaces whose creating process is gone (a run
// killed before its cleanup).
func SweepStale() {
	deleteMatching(func(name string) bool {
		parts := strings.Split(name, "-")
		if len(parts) < 3 || parts[0] != Prefix {
			return false
		}
		pid, err := strconv.Atoi(parts[1])
		if err != nil {
			return false
		}
		_, err = os.Stat("/proc/" + strconv.Itoa(pid))
		return os.IsNotExist(err)
	})
}

func deleteMatching(match func(string) bool) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && match(f[0]) {
			exec.Command("ip", "netns", "del", f[0]).Run()
		}
	}
}

// Namespaces lists the lab namespaces that exist now (all runs).
func Namespaces() []string {
	out, _ := exec.Command("ip", "netns", "list").Output()
	var ns []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], Prefix+"-") {
			ns = append(ns, f[0])
		}
	}
	return ns
}

// Netem sets the host's egress qdisc on eth0 to netem with args, e.g.
// "delay", "100ms", "loss", "1%". Delay on one host's egress is seen by
// every connection of that host once per round trip.
func (h *Host) Netem(args ...string) {
	h.lab.t.Helper()
	h.lab.must(append([]string{"ip", "netns", "exec", h.NS, "tc", "qdisc", "replace", "dev", "eth0", "root", "netem"}, args...)...)
}

// ClearNetem removes the host's netem qdisc.
func (h *Host) ClearNetem() {
	exec.Command("ip", "netns", "exec", h.NS, "tc", "qdisc", "del", "dev", "eth0", "root").Run()
}

// AddAddr gives the host an extra address (CIDR form, e.g.
// "198.19.7.9/15") on eth0.
func (h *Host) AddAddr(cidr string) {
	h.lab.t.Helper()
	h.lab.must("ip", "-n", h.NS, "addr", "add", cidr, "dev", "eth0")
}

// Partition splits the lab: the hosts in side move to a second bridge, so
// they reach each other but not the rest, and packets between the halves
// are lost silently (as on a cut WAN link: no RST, no ICMP).
func (l *Lab) Partition(side []*Host) {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, h := range side {
		l.must("ip", "-n", l.Bridge, "link", "set", h.port, "master", "br1")
		l.isolated[h.Index] = true
	}
}

// Heal puts every host back on the main bridge.
func (l *Lab) Heal() {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.isolated {
		l.must("ip", "-n", l.Bridge, "link", "set", l.Hosts[i].port, "master", "br0")
		delete(l.isolated, i)
	}
}

// CutLink takes the host's cable out (its bridge port goes down); RestoreLink puts it back.
func (h *Host) CutLink() {
	h.lab.t.Helper()
	h.lab.must("ip", "-n", h.lab.Bridge, "link", "set", h.port, "down")
}

// RestoreLink undoes CutLink.
func (h *Host) RestoreLink() {
	h.lab.t.Helper()
	h.lab.must("ip", "-n", h.lab.Bridge, "link", "set", h.port, "up")
}

// inNSOutput lists the host's routes (for tests of the harness).
func (h *Host) inNSOutput() (string, error) {
	out, err := exec.Command("ip", "-n", h.NS, "route").CombinedOutput()
	return string(out), err
}

// AddAddrs gives the host many extra addresses on eth0 at once (CIDR form).
func (h *Host) AddAddrs(cidrs []string) {
	h.lab.t.Helper()
	var b strings.Builder
	for _, c := range cidrs {
		fmt.Fprintf(&b, "addr add %s dev eth0\n", c)
	}
	cmd := exec.Command("ip", "-n", h.NS, "-batch", "-")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		h.lab.t.Fatalf("lab: add %d addresses to %s: %v: %s", len(cidrs), h.NS, err, bytes.TrimSpace(out))
	}
}
