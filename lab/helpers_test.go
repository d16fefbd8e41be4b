package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// binaries built once per test binary run.
var bins struct {
	once     sync.Once
	dir      string
	labnode  string
	peerwire string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bins.dir != "" {
		os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

// buildBins builds labnode and peerwire (if its node command exists).
func buildBins(t testing.TB) {
	t.Helper()
	bins.once.Do(func() {
		bins.dir, bins.err = os.MkdirTemp("", "pwlab-bin-")
		if bins.err != nil {
			return
		}
		build := func(out, pkg string) error {
			cmd := exec.Command("go", "build", "-o", out, pkg)
			cmd.Dir = repoRoot()
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
			}
			return nil
		}
		bins.labnode = filepath.Join(bins.dir, "labnode")
		if bins.err = build(bins.labnode, "./lab/cmd/labnode"); bins.err != nil {
			return
		}
		bins.peerwire = filepath.Join(bins.dir, "peerwire")
		bins.err = build(bins.peerwire, "./cmd/peerwire")
	})
	if bins.err != nil {
		t.Fatal(bins.err)
	}
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

const (
	p2pPort   = "26656"
	adminPort = "7000"
)

// labNode is a labnode process in a host.
type labNode struct {
	*Proc
	name string
	addr string // ID@host:port
}

func nodeName(i int) string { return fmt.Sprintf("n%d", i) }

// listenAddr is host h's p2p address.
func listenAddr(h *Host) string { return h.Addr.String() + ":" + p2pPort }

// startLabNode runs labnode called name on h with extra flags.
func startLabNode(t testing.TB, h *Host, name string, args ...string) *labNode {
	t.Helper()
	buildBins(t)
	all := append([]string{"-name", name, "-listen", listenAddr(h), "-admin", "127.0.0.1:" + adminPort, "-index", fmt.Sprint(h.Index)}, args...)
	p := h.Start(t, name, bins.labnode, all...)
	ln := &labNode{Proc: p, name: name, addr: NodeAddr(name, listenAddr(h))}
	testutil.Eventually(t, 20*time.Second, name+" admin up", func() bool {
		_, err := ln.stats(context.Background())
		return err == nil
	})
	return ln
}

func (n *labNode) stats(ctx context.Context) (*Report, error) { return n.statsPath(ctx, "/stats") }

// statsGC is stats after a forced GC in the node, so LiveHeapKiB is set.
func (n *labNode) statsGC(ctx context.Context) (*Report, error) {
	return n.statsPath(ctx, "/stats?gc=1")
}

func (n *labNode) statsPath(ctx context.Context, path string) (*Report, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b, err := n.Host.Get(ctx, "http://127.0.0.1:"+adminPort+path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// statsWithin bounds how long mustStats keeps asking a node for its
// report. The report is how a test observes a node, not the behaviour
// under test: on a loaded machine, beside a flood of connections in the
// same host, one request can miss its 5 s bound while the node is fine.
const statsWithin = 30 * time.Second

func (n *labNode) mustStats(t testing.TB) *Report {
	t.Helper()
	deadline := time.Now().Add(statsWithin)
	for {
		r, err := n.stats(context.Background())
		if err == nil {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no report within %v: %v", n.name, statsWithin, err)
		}
		time.Sleep(100 * time.Millisecond) // a dead node answers at once: don't spin
	}
}

func (n *labNode) get(t testing.TB, path string) {
	t.Helper()
	if _, err := n.Host.Get(context.Background(), "http://127.0.0.1:"+adminPort+path); err != nil {
		t.Fatalf("%s %s: %v", n.name, path, err)
	}
}

// figure logs a measured figure in a form docs/RELIABILITY.md is written from.
func figure(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Logf("FIGURE %s: %s", t.Name(), fmt.Sprintf(format, args...))
}

// unexpectedDisconnects counts r's disconnects other than the closing of
// a duplicate connection (two nodes that dialed each other at once keep
// one connection; the other is closed by design, not dropped). Reasons are
// kept for the first 20 disconnects; any beyond count as unexpected.
func (r *Report) unexpectedDisconnects() (n uint64, dups int) {
	for _, s := range r.DisconnectReasons {
		if strings.Contains(s, "duplicate connection") {
			dups++
		}
	}
	return r.Disconnects - uint64(dups), dups
}
