package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/p2p/httpapi"
)

// TestNodeProcessLooksBroken: a "peerwire node" process at the default log
// level whose bootstrap peer is unreachable says so at WARN (component
// p2p, the address, the reason), then warns that it has no peers and
// answers /healthz with 503 degraded; every line names its component and
// no DEBUG line is written.
func TestNodeProcessLooksBroken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	addrs := freeAddrs(t, 3)
	seed := sha256.Sum256([]byte("unreachable bootstrap"))
	id, err := crypto.IdentityFromSeed(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	dead := id.ID().String() + "@" + addrs[2] // nothing listens there
	p := startNodeProcAt(t, "", "broken", addrs[0], addrs[1], "-data-dir", t.TempDir(),
		"-bootstrap", dead, "-no-peers-warn", "2s")
	logText := func() string {
		b, _ := os.ReadFile(p.log.Name())
		return string(b)
	}
	hasLine := func(parts ...string) bool {
		for _, line := range strings.Split(logText(), "\n") {
			all := true
			for _, s := range parts {
				all = all && strings.Contains(line, s)
			}
			if all {
				return true
			}
		}
		return false
	}
	testutil.Eventually(t, 30*time.Second, "the bootstrap WARN", func() bool {
		return hasLine("level=WARN", `msg="bootstrap dial failed"`, "component=p2p", "addr="+dead, "refused")
	})
	testutil.Eventually(t, 30*time.Second, "the no-peers WARN", func() bool {
		return hasLine("level=WARN", `msg="no peers"`, "component=p2p")
	})
	var h httpapi.Health
	testutil.Eventually(t, 30*time.Second, "/healthz 503 degraded", func() bool {
		resp, err := testHTTP.Get("http://" + p.admin + "/healthz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		h = httpapi.Health{}
		return resp.StatusCode == 503 && json.NewDecoder(resp.Body).Decode(&h) == nil && h.Status == "degraded"
	})
	if len(h.Problems) != 1 || h.Problems[0].Code != "no_peers" || !strings.Contains(h.Problems[0].Message, "no peers for") {
		t.Fatalf("/healthz problems: %+v", h.Problems)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, line := range strings.Split(strings.TrimSpace(logText()), "\n") {
		if !strings.HasPrefix(line, "time=") {
			continue // the signal notice, written by main, not a log line
		}
		if !strings.Contains(line, "component=") {
			t.Errorf("line without a component: %s", line)
		}
		if strings.Contains(line, "level=DEBUG") {
			t.Errorf("DEBUG line at the default level: %s", line)
		}
	}
	if !bytes.Contains([]byte(logText()), []byte(`msg="peerwire node running"`)) {
		t.Fatal("no running line")
	}
}
