package httpapi

import (
	"bytes"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/p2p/metrics"
	"github.com/peerwire/peerwire/proto/pb"
)

// startDHTNode starts a DHT server on ip that bootstraps from boot (if any).
func startDHTNode(t *testing.T, name, ip string, boot *p2p.Node) *p2p.Node {
	t.Helper()
	return startTestPeer(t, "httpapi-dht-"+name, func(c *p2p.Config) {
		c.ListenAddr, c.Role = ip+":0", pb.NodeRole_NODE_ROLE_FULL
		c.DHT = p2p.DHTConfig{Mode: p2p.DHTServer}
		c.MaintainInterval = 50 * time.Millisecond
		if boot != nil {
			c.Bootstrap = []string{boot.ListenAddr().String()}
		}
	})
}

// TestDHTEndpoint checks GET /dht: the mode, counters and table of a node
// whose DHT found its bootstrap node, "off" for a node without a DHT, and
// the DHT metrics.
func TestDHTEndpoint(t *testing.T) {
	a := startDHTNode(t, "a", "127.0.0.1", nil)
	b := startDHTNode(t, "b", "127.1.0.1", a)
	testutil.Eventually(t, 10*time.Second, "b's table to hold a", func() bool { return b.DHT().Table().Contains(a.ID()) })
	srv := httptest.NewServer(New(b, Options{Metrics: metrics.Handler(b)}))
	defer srv.Close()
	api := client{t: t, base: srv.URL}
	var got DHT
	api.expect("GET", "/dht", "", 200, "", &got)
	if got.Mode != "server" || got.Entries < 1 || got.Queries == 0 || len(got.Table) != got.Entries || got.Table[0].ID != a.ID().String() {
		t.Fatalf("GET /dht: %+v", got)
	}
	_, _, body := api.do("GET", "/metrics", "")
	if !bytes.Contains(body, []byte("peerwire_dht_table_entries 1")) || !bytes.Contains(body, []byte(`peerwire_dht_queries_total{result="answered"}`)) {
		t.Fatalf("metrics lack the DHT:\n%s", body)
	}
	off := startNode(t, 9, pb.NodeRole_NODE_ROLE_FULL)
	srv2 := httptest.NewServer(New(off, Options{}))
	defer srv2.Close()
	var none DHT
	client{t: t, base: srv2.URL}.expect("GET", "/dht", "", 200, "", &none)
	if none.Mode != "off" || none.Entries != 0 || none.Table == nil {
		t.Fatalf("GET /dht with the DHT off: %+v", none)
	}
	api.expect("POST", "/dht", "", 405, "method_not_allowed", nil)
}
