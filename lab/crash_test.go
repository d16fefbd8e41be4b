package lab

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// TestCrashRestart kills a `peerwire node` with SIGKILL while 1 MiB blocks
// flow through it, restarts it without a bootstrap list, and checks that its
// book loads, it reconnects from the book, and traffic flows again.
//
// Topology: the victim V (peerwire node, host 2) is the hub; labnode L0
// (host 0) gossips a 1 MiB block every 300 ms and votes, labnode L1 (host 1)
// counts them, peerwire node W (host 3) relays. L0, L1 and W bootstrap to V;
// V's first run bootstraps to all three.
//
// Bounds: peers see V gone within 3 s (the kernel closes a killed process's
// sockets at once, so they read EOF without a close-notify; 3 s leaves room
// for a loaded machine). V is back with all three peers within 20 s of its
// restart: its own fill dials a book entry within the 2 s fill interval,
// the labnodes redial it with a book backoff capped at 4 s, and W's book
// backoff after one failure is the 10 s default base.
func TestCrashRestart(t *testing.T) {
	l := New(t, 4)
	v := newPWNode(t, l.Hosts[2], "v")
	w := newPWNode(t, l.Hosts[3], "w", "-bootstrap", v.addr)
	lab := []string{"-network", "peerwire-lab", "-chain", "lab-1", "-bootstrap", v.addr, "-ping", "1s", "-idle", "5s", "-probe-every", "0"}
	v.start("run1", "-bootstrap", NodeAddr("l0", listenAddr(l.Hosts[0]))+","+NodeAddr("l1", listenAddr(l.Hosts[1]))+","+w.addr)
	w.start("run1")
	l0 := startLabNode(t, l.Hosts[0], "l0", append(lab, "-block-every", "300ms", "-vote-every", "50ms", "-paused")...)
	l1 := startLabNode(t, l.Hosts[1], "l1", lab...)
	want := map[string]bool{Identity("l0").ID().String(): true, Identity("l1").ID().String(): true, w.id(): true}
	hasAll := func() bool {
		ps := v.peerSet()
		for id := range want {
			if !ps[id] {
				return false
			}
		}
		return true
	}
	testutil.Eventually(t, 30*time.Second, "V connected to L0, L1 and W", hasAll)
	bookBefore := 0
	testutil.Eventually(t, 10*time.Second, "V's book saved with its three bootstrap peers", func() bool {
		bookBefore = v.bookLen()
		_, err := os.Stat(filepath.Join(v.dataDir, "peerbook.json"))
		return bookBefore >= 3 && err == nil
	})
	l0.get(t, "/resume")
	key := strconv.Itoa(l0.Host.Index)
	testutil.Eventually(t, 20*time.Second, "blocks from L0 at L1 through V", func() bool {
		return l1.mustStats(t).RecvBlocks[key] >= 5
	})
	time.Sleep(2 * time.Second) // heavy traffic in flight through V
	before := l1.mustStats(t).RecvBlocks[key]
	rss, _ := v.Stats()

	v.Kill()
	killed := time.Now()
	vid := v.id()
	noticed := testutil.Eventually(t, 3*time.Second, "L0 and L1 see V gone", func() bool {
		for _, n := range []*labNode{l0, l1} {
			for _, p := range n.mustStats(t).Peers {
				if p.ID == vid {
					return false
				}
			}
		}
		return true
	})
	_ = killed

	restart := time.Now()
	v.start("run2") // no -bootstrap
	back := testutil.Eventually(t, 20*time.Second, "V reconnected to L0, L1 and W without a bootstrap list", hasAll)
	m := regexp.MustCompile(`peer book loaded.*entries=(\d+)`).FindStringSubmatch(readFile(v.Log))
	if m == nil {
		t.Fatalf("V's log has no 'peer book loaded' line:\n%s", readFile(v.Log))
	}
	loaded, _ := strconv.Atoi(m[1])
	if loaded < 3 {
		t.Fatalf("V loaded %d book entries, want ≥ 3", loaded)
	}
	if logContains(v.Log, "moved aside") {
		t.Fatalf("V's book was unusable after SIGKILL:\n%s", readFile(v.Log))
	}
	flowed := testutil.Eventually(t, 20*time.Second, "blocks from L0 at L1 again", func() bool {
		return l1.mustStats(t).RecvBlocks[key] >= before+5
	})
	_ = restart
	figure(t, "victim (peerwire node, RSS %d MiB) killed with SIGKILL while relaying a 1 MiB block every 300 ms: peers saw it gone in %v; restarted without -bootstrap, it loaded %d book entries (file intact), was connected to all three peers again %v after the restart, and blocks from L0 reached L1 through it again %v after that",
		rss.RSSKiB>>10, noticed.Round(100*time.Millisecond), loaded, back.Round(100*time.Millisecond), flowed.Round(100*time.Millisecond))
	_ = context.Background
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}
