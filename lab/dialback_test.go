package lab

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// TestNATDialBack: a node on the NAT lab's LAN dials four WAN nodes in
// distinct /16 groups, learns its observed address (the router's WAN IP)
// from them and asks them to dial it back there. Without a port mapping
// nothing answers at the router: the verdict is private. With -nat upnp
// the mapping forwards the dial-backs to it: the verdict is public, with
// the router's address verified.
func TestNATDialBack(t *testing.T) {
	for _, tc := range []struct {
		mode, verdict, verified string
	}{
		{"none", "verdict=private", "verified=[]"},
		{"upnp", "verdict=public", "@" + natWANRtr + ":" + p2pPort + "]"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			n := newNATLab(t)
			buildBins(t)
			common := []string{"-network", "natlab", "-admin", "", "-log-level", "debug"}
			var boots []string
			for i := range 4 {
				ip := natWANHost
				if i > 0 { // more WAN hosts, each in its own /16
					ip = fmt.Sprintf("45.%d.10.2", 77+i)
					n.must("ip", "-n", n.wan.NS, "addr", "add", ip+"/24", "dev", "eth0")
					n.must("ip", "-n", n.rtr.NS, "route", "add", fmt.Sprintf("45.%d.10.0/24", 77+i), "dev", "wan0")
				}
				n.wan.Start(t, fmt.Sprintf("wan%d", i), bins.peerwire, append([]string{"node", "-data-dir", t.TempDir(),
					"-listen", ip + ":" + p2pPort}, common...)...)
				boots = append(boots, ip+":"+p2pPort)
			}
			lan := n.lan.Start(t, "lan", bins.peerwire, append([]string{"node", "-data-dir", t.TempDir(),
				"-listen", "0.0.0.0:" + p2pPort, "-nat", tc.mode, "-bootstrap", strings.Join(boots, ",")}, common...)...)
			took := testutil.Eventually(t, 60*time.Second, "the LAN node's verdict", func() bool {
				return logLineHas(lan.Log, `msg="reachability changed"`, tc.verdict, tc.verified)
			})
			figure(t, "-nat %s: %s %v after the LAN node started", tc.mode, tc.verdict, took.Round(time.Millisecond))
			t.Log(lineWith(lan.Log, `msg="reachability changed"`))
			if !fileHas(lan.Log, "observed="+natWANRtr) {
				t.Error("the LAN node did not log its observed address")
			}
		})
	}
}

// lineWith returns the last line of the log at path that holds s.
func lineWith(path, s string) string {
	b, _ := os.ReadFile(path)
	last := ""
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, s) {
			last = line
		}
	}
	return last
}

// logLineHas reports whether a line of the log at path holds every one of
// parts.
func logLineHas(path string, parts ...string) bool {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}
