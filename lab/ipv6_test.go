package lab

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// TestIPv6DualStack: the lab gives its hosts IPv4 only; here each host
// gets an IPv6 address on the same bridge too (fd18::/64, without
// duplicate address detection so it is usable at once). A node listening
// on both its IPv4 and IPv6 addresses (-listen a,b) is dialed by one
// peer over IPv6 and by another over IPv4, between namespaces, with the
// real binary.
func TestIPv6DualStack(t *testing.T) {
	l := New(t, 3)
	buildBins(t)
	v6 := func(h *Host) string { return fmt.Sprintf("fd18::%d", h.Index+1) }
	for _, h := range l.Hosts {
		h.AddAddrs([]string{v6(h) + "/64 nodad"})
	}
	common := []string{"-network", "lab6", "-admin", "", "-log-level", "debug", "-allow-private"}
	hub := l.Hosts[0]
	hubV4 := hub.Addr.String() + ":" + p2pPort
	hubV6 := "[" + v6(hub) + "]:" + p2pPort
	a := hub.Start(t, "hub", bins.peerwire, append([]string{"node", "-data-dir", t.TempDir(),
		"-listen", hubV4 + "," + hubV6}, common...)...)
	var id string
	testutil.Eventually(t, 30*time.Second, "the hub running", func() bool {
		b, _ := os.ReadFile(a.Log)
		m := idLine.FindSubmatch(b)
		if m != nil {
			id = string(m[1])
		}
		return m != nil
	})
	if !fileHas(a.Log, "advertise="+id+"@"+hubV4+","+id+"@"+hubV6) {
		t.Fatalf("the hub does not advertise both addresses")
	}
	over6 := l.Hosts[1].Start(t, "over6", bins.peerwire, append([]string{"node", "-data-dir", t.TempDir(),
		"-listen", "[" + v6(l.Hosts[1]) + "]:" + p2pPort, "-must-connect", id + "@" + hubV6}, common...)...)
	over4 := l.Hosts[2].Start(t, "over4", bins.peerwire, append([]string{"node", "-data-dir", t.TempDir(),
		"-listen", listenAddr(l.Hosts[2]), "-must-connect", id + "@" + hubV4}, common...)...)
	testutil.Eventually(t, 30*time.Second, "handshakes over IPv6 and IPv4", func() bool {
		return fileHas(over6.Log, "dir=outbound remote="+hubV6) && fileHas(over4.Log, "dir=outbound remote="+hubV4) &&
			fileHas(a.Log, "dir=inbound remote=["+v6(l.Hosts[1])+"]:") &&
			fileHas(a.Log, "dir=inbound remote="+l.Hosts[2].Addr.String()+":")
	})
}
