package lab

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// The NAT lab: a LAN host behind a router namespace that masquerades
// (nftables) onto a WAN link and runs Debian's miniupnpd, which serves UPnP
// IGD and NAT-PMP. The WAN side uses 45.77.10.0/24, a public-looking /24
// that exists only inside these namespaces (miniupnpd 2.3.1 refuses to
// forward when its WAN address is reserved, which the lab's 198.18/15 is):
// no namespace has an uplink or a route beyond its own links, so no packet
// leaves the test's namespaces.
const (
	natLANHost = "192.168.77.2"
	natLANGW   = "192.168.77.1"
	natWANRtr  = "45.77.10.1"
	natWANHost = "45.77.10.2"
)

// natAvailable says why the NAT lab cannot run here, or "".
func natAvailable() string {
	if why := Available(); why != "" {
		return why
	}
	for _, tool := range []string{"miniupnpd", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "lab: " + tool + " not found (apt-get install -y miniupnpd-nftables nftables)"
		}
	}
	return ""
}

type natLab struct {
	t             *testing.T
	lan, rtr, wan *Host
}

func (n *natLab) must(args ...string) {
	n.t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		n.t.Fatalf("lab: %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// newNATLab builds the three namespaces and starts miniupnpd; everything
// is removed when t ends.
func newNATLab(t *testing.T) *natLab {
	if why := natAvailable(); why != "" {
		t.Skip(why)
	}
	SweepStale()
	var r [3]byte
	rand.Read(r[:])
	run := fmt.Sprintf("%s-%d-%s", Prefix, os.Getpid(), hex.EncodeToString(r[:]))
	t.Cleanup(func() { deleteMatching(func(name string) bool { return strings.HasPrefix(name, run+"-") }) })
	n := &natLab{t: t, lan: &Host{NS: run + "-lan"}, rtr: &Host{NS: run + "-rtr"}, wan: &Host{NS: run + "-wan"}}
	for _, h := range []*Host{n.lan, n.rtr, n.wan} {
		n.must("ip", "netns", "add", h.NS)
		n.must("ip", "-n", h.NS, "link", "set", "lo", "up")
	}
	n.must("ip", "-n", n.rtr.NS, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", n.lan.NS)
	n.must("ip", "-n", n.rtr.NS, "link", "add", "wan0", "type", "veth", "peer", "name", "eth0", "netns", n.wan.NS)
	n.must("ip", "-n", n.rtr.NS, "addr", "add", natLANGW+"/24", "dev", "lan0")
	n.must("ip", "-n", n.rtr.NS, "addr", "add", natWANRtr+"/24", "dev", "wan0")
	n.must("ip", "-n", n.lan.NS, "addr", "add", natLANHost+"/24", "dev", "eth0")
	n.must("ip", "-n", n.wan.NS, "addr", "add", natWANHost+"/24", "dev", "eth0")
	for _, l := range [][2]string{{n.rtr.NS, "lan0"}, {n.rtr.NS, "wan0"}, {n.lan.NS, "eth0"}, {n.wan.NS, "eth0"}} {
		n.must("ip", "-n", l[0], "link", "set", l[1], "up")
	}
	n.must("ip", "-n", n.lan.NS, "route", "add", "default", "via", natLANGW)
	n.must("ip", "netns", "exec", n.rtr.NS, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")

	dir := t.TempDir()
	ruleset := filepath.Join(dir, "router.nft")
	os.WriteFile(ruleset, []byte(`table inet miniupnpd {
	chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
	chain miniupnpd { }
	chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
	chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; oifname "wan0" masquerade; }
	chain prerouting_miniupnpd { }
	chain postrouting_miniupnpd { }
}
`), 0o600)
	if out, err := exec.Command("ip", "netns", "exec", n.rtr.NS, "nft", "-f", ruleset).CombinedOutput(); err != nil {
		t.Skipf("lab: the kernel lacks nftables (nft -f: %v: %s)", err, bytes.TrimSpace(out))
	}
	conf := filepath.Join(dir, "miniupnpd.conf")
	os.WriteFile(conf, []byte(`ext_ifname=wan0
listening_ip=lan0
http_port=5000
enable_upnp=yes
enable_natpmp=yes
secure_mode=yes
system_uptime=yes
uuid=3f1e7a52-4d0b-4b55-9c1e-70ee1e0f0a77
lease_file=`+filepath.Join(dir, "leases")+`
upnp_table_name=miniupnpd
upnp_nat_table_name=miniupnpd
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
allow 1024-65535 192.168.77.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
`), 0o600)
	n.rtr.Start(t, "miniupnpd", "miniupnpd", "-d", "-f", conf, "-P", filepath.Join(dir, "miniupnpd.pid"))
	return n
}

// ruleset is the router's nftables ruleset now.
func (n *natLab) ruleset() string {
	out, _ := exec.Command("ip", "netns", "exec", n.rtr.NS, "nft", "list", "table", "inet", "miniupnpd").CombinedOutput()
	return string(out)
}

func fileHas(path, s string) bool {
	b, _ := os.ReadFile(path)
	return bytes.Contains(b, []byte(s))
}

var idLine = regexp.MustCompile(`msg="peerwire node running" (?:component=node )?id=([0-9a-f]{40})`)

// TestNATPortMapping: a node on the LAN maps its port on miniupnpd
// through UPnP, then (second run) NAT-PMP, then (third run) mode any,
// which finds miniupnpd by SSDP first; a node on the WAN dials the
// mapped address and completes a handshake; the mapping is gone once the
// LAN node has stopped.
func TestNATPortMapping(t *testing.T) {
	for _, mode := range []string{"upnp", "pmp", "any"} {
		t.Run(mode, func(t *testing.T) {
			n := newNATLab(t)
			buildBins(t)
			common := []string{"-network", "natlab", "-admin", "", "-log-level", "debug"}
			start := time.Now()
			lan := n.lan.Start(t, "lan", bins.peerwire, append([]string{"node", "-data-dir", t.TempDir(),
				"-listen", natLANHost + ":" + p2pPort, "-nat", mode}, common...)...)
			ext := natWANRtr + ":" + p2pPort
			took := testutil.Eventually(t, 30*time.Second, "the LAN node's mapping", func() bool {
				return fileHas(lan.Log, `msg="external address changed"`) && fileHas(lan.Log, "external="+ext)
			})
			figure(t, "%s mapping held %v after the node started", mode, took.Round(time.Millisecond))
			if rs := n.ruleset(); !strings.Contains(rs, "dport "+p2pPort) {
				t.Fatalf("no forwarding rule on the router:\n%s", rs)
			}
			b, _ := os.ReadFile(lan.Log)
			m := idLine.FindSubmatch(b)
			if m == nil {
				t.Fatalf("no node ID in the LAN node's log")
			}
			wan := n.wan.Start(t, "wan", bins.peerwire, append([]string{"node", "-data-dir", t.TempDir(),
				"-listen", natWANHost + ":" + p2pPort, "-must-connect", string(m[1]) + "@" + ext}, common...)...)
			testutil.Eventually(t, 30*time.Second, "the WAN node's handshake through the mapping", func() bool {
				return fileHas(wan.Log, "dir=outbound remote="+ext) && fileHas(lan.Log, "dir=inbound remote="+natWANHost+":")
			})
			wan.Stop(10 * time.Second)
			lan.Stop(20 * time.Second)
			if !fileHas(lan.Log, `msg="nat: port mapping removed"`) {
				t.Error("the LAN node did not log the mapping's removal")
			}
			if rs := n.ruleset(); strings.Contains(rs, "dport "+p2pPort) {
				t.Fatalf("the forwarding rule outlived the node:\n%s", rs)
			}
			figure(t, "%s: mapped, dialed from the WAN and removed at stop in %v", mode, time.Since(start).Round(time.Millisecond))
		})
	}
}
