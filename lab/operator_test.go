package lab

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
)

const pwAdmin = "http://127.0.0.1:26670" // peerwire node's default -admin

// pwNode is a `peerwire node` process in a host.
type pwNode struct {
	*Proc
	name, dataDir, addr string
	args                []string
	t                   testing.TB
}

// newPWNode prepares a peerwire node called name on h: its data dir holds
// the key of lab.Identity(name), so its ID is known before it starts. It
// floods blocks, as labnodes do by default: nodes that spread the blocks
// topic differently refuse each other (docs/PROTOCOL.md §8.7, feature
// 0x0002). A later -block-gossip in args wins.
func newPWNode(t testing.TB, h *Host, name string, args ...string) *pwNode {
	t.Helper()
	buildBins(t)
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := crypto.SaveKeyFile(filepath.Join(dir, "node.key"), Identity(name), false); err != nil {
		t.Fatal(err)
	}
	return &pwNode{name: name, dataDir: dir, addr: NodeAddr(name, listenAddr(h)), t: t,
		args: append([]string{"node", "-data-dir", dir, "-listen", listenAddr(h), "-network", "peerwire-lab", "-chain", "lab-1",
			"-log-level", "info", "-save-interval", "1s", "-block-gossip", "flood"}, args...), Proc: &Proc{Host: h}}
}

// start runs the node with its base flags plus extra, and waits for its admin API.
func (n *pwNode) start(run string, extra ...string) {
	n.t.Helper()
	n.Proc = n.Host.Start(n.t, n.name+"-"+run, bins.peerwire, append(append([]string{}, n.args...), extra...)...)
	testutil.Eventually(n.t, 20*time.Second, n.name+" admin API", func() bool {
		_, err := n.Host.Get(context.Background(), pwAdmin+"/healthz")
		return err == nil && !n.Exited()
	})
}

// pwPeer is the part of GET /peers the lab reads.
type pwPeer struct {
	ID          string `json:"id"`
	Direction   string `json:"direction"`
	MustConnect bool   `json:"must_connect"`
}

func (n *pwNode) peers() ([]pwPeer, error) {
	b, err := n.Host.Get(context.Background(), pwAdmin+"/peers")
	if err != nil {
		return nil, err
	}
	var list struct{ Peers []pwPeer }
	err = json.Unmarshal(b, &list)
	return list.Peers, err
}

func (n *pwNode) peerSet() map[string]bool {
	ps, err := n.peers()
	if err != nil {
		return nil
	}
	m := map[string]bool{}
	for _, p := range ps {
		m[p.ID] = true
	}
	return m
}

func (n *pwNode) bookLen() int {
	b, err := n.Host.Get(context.Background(), pwAdmin+"/book")
	if err != nil {
		return -1
	}
	var es []json.RawMessage
	if json.Unmarshal(b, &es) != nil {
		return -1
	}
	return len(es)
}

func (n *pwNode) id() string { return Identity(n.name).ID().String() }

func logContains(path, s string) bool {
	b, _ := os.ReadFile(path)
	return strings.Contains(string(b), s)
}
