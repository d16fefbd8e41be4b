package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/p2p/metrics"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
	"github.com/peerwire/peerwire/proto/pb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startNode(t testing.TB, i int, role pb.NodeRole) *p2p.Node {
	t.Helper()
	return startTestPeer(t, fmt.Sprintf("httpapi-%d", i), func(c *p2p.Config) {
		c.Role = role
		c.Peers.RedialBase, c.Peers.RedialMax = 50*time.Millisecond, 200*time.Millisecond
		c.MaintainInterval = 50 * time.Millisecond
	})
}

// startTestPeer starts a node of identity seed listening on loopback, on
// the test's network, loopback allowed, its config changed by set; it
// stops with the test.
func startTestPeer(t testing.TB, seed string, set func(*p2p.Config)) *p2p.Node {
	t.Helper()
	sum := sha256.Sum256([]byte(seed))
	id, err := crypto.IdentityFromSeed(sum[:])
	if err != nil {
		t.Fatal(err)
	}
	cfg := p2p.Config{
		Identity: id, ListenAddr: "127.0.0.1:0", NetworkID: "httpapi-test",
		Topics:        []p2p.TopicConfig{{TopicConfig: mux.TopicConfig{ID: 1, Name: "consensus", Priority: 10}}},
		Peers:         peerset.Config{MaxOutboundPerGroup: -1},
		Filter:        filter.Config{ExemptLoopback: true},
		Book:          peerbook.Config{AllowLoopback: true},
		ChurnInterval: -1, StatusInterval: -1,
	}
	set(&cfg)
	n, err := p2p.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop(context.Background()) })
	return n
}

// client calls the API with an optional token.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (c client) do(method, path, body string) (int, http.Header, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if method == "POST" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// expect checks the status and, for errors, the JSON error code; it
// decodes a success body into out when out is not nil.
func (c client) expect(method, path, body string, status int, code string, out any) {
	c.t.Helper()
	got, _, b := c.do(method, path, body)
	if got != status {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, got, status, b)
	}
	if code != "" {
		var e Error
		if err := json.Unmarshal(b, &e); err != nil || e.Code != code || e.Message == "" {
			c.t.Fatalf("%s %s: error body %s, want code %q", method, path, b, code)
		}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

func TestAPI(t *testing.T) {
	a := startNode(t, 1, pb.NodeRole_NODE_ROLE_VALIDATOR)
	b := startNode(t, 2, pb.NodeRole_NODE_ROLE_FULL)
	c := startNode(t, 3, pb.NodeRole_NODE_ROLE_SEED)
	srv := httptest.NewServer(New(a, Options{Metrics: metrics.Handler(a)}))
	defer srv.Close()
	api := client{t: t, base: srv.URL}
	bID, cID := b.ID().String(), c.ID().String()
	unknown := strings.Repeat("ab", crypto.IDLen)

	var h Health
	api.expect("GET", "/healthz", "", 200, "", &h)
	if h.Status != "ok" || h.ID != a.ID().String() || h.Listen != a.ListenAddr().String() {
		t.Fatalf("health %+v", h)
	}

	var list PeerList
	api.expect("GET", "/peers", "", 200, "", &list)
	if peers := list.Peers; len(peers) != 0 {
		t.Fatalf("peers before any dial: %+v", peers)
	}

	// Dial b.
	var dr DialResponse
	api.expect("POST", "/peers", `{"addr":"`+b.ListenAddr().String()+`"}`, 201, "", &dr)
	if dr.ID != bID || !dr.Connected || dr.MustConnect {
		t.Fatalf("dial response %+v", dr)
	}
	api.expect("POST", "/peers", `{"addr":"`+b.ListenAddr().String()+`"}`, 409, "already_connected", nil)

	// Bad bodies and addresses.
	for _, tc := range []struct{ body, code string }{
		{``, "bad_body"},
		{`{`, "bad_body"},
		{`[1]`, "bad_body"},
		{`{"addr":"x","bogus":1}`, "bad_body"},
		{`{"addr":"127.0.0.1:1"} {}`, "bad_body"},
		{`{}`, "bad_body"},
		{`{"addr":"not an address"}`, "bad_addr"},
		{`{"addr":"127.0.0.1:1","must_connect":true}`, "bad_addr"},
		{`{"addr":"` + a.ListenAddr().String() + `"}`, "self"},
	} {
		api.expect("POST", "/peers", tc.body, 400, tc.code, nil)
	}
	api.expect("POST", "/peers", `{"addr":"`+strings.Repeat("x", MaxBodyBytes)+`"}`, 413, "body_too_large", nil)
	// A closed port: the dial fails upstream.
	ln := httptest.NewUnstartedServer(nil).Listener
	dead := ln.Addr().String()
	ln.Close()
	api.expect("POST", "/peers", `{"addr":"`+unknown+`@`+dead+`"}`, 502, "dial_failed", nil)

	// List, filter, get.
	api.expect("GET", "/peers", "", 200, "", &list)
	if peers := list.Peers; len(peers) != 1 || peers[0].ID != bID || peers[0].Direction != "outbound" || peers[0].Role != "full" || len(peers[0].Topics) == 0 ||
		peers[0].ProtocolVersion != 1 || peers[0].Features == nil {
		t.Fatalf("peers %+v", peers)
	}
	api.expect("GET", "/peers?role=full", "", 200, "", &list)
	if peers := list.Peers; len(peers) != 1 {
		t.Fatalf("role=full: %+v", peers)
	}
	api.expect("GET", "/peers?role=validator", "", 200, "", &list)
	if peers := list.Peers; len(peers) != 0 {
		t.Fatalf("role=validator: %+v", peers)
	}
	api.expect("GET", "/peers?role=king", "", 400, "bad_role", nil)
	var p Peer
	api.expect("GET", "/peers/"+bID, "", 200, "", &p)
	if p.ID != bID || p.Remote == "" {
		t.Fatalf("peer %+v", p)
	}
	api.expect("GET", "/peers/zz", "", 400, "bad_id", nil)
	api.expect("GET", "/peers/"+unknown, "", 404, "unknown_peer", nil)

	// Must-connect c: accepted, then connected in the background.
	api.expect("POST", "/peers", `{"addr":"`+c.ListenAddr().String()+`","must_connect":true}`, 202, "", &dr)
	if dr.ID != cID || !dr.MustConnect {
		t.Fatalf("must-connect response %+v", dr)
	}
	testutil.Eventually(t, 10*time.Second, "must-connect peer connected", func() bool {
		p, ok := a.Peer(c.ID())
		return ok && p.MustConnect
	})

	// The book has both.
	var book []BookEntry
	api.expect("GET", "/book", "", 200, "", &book)
	seen := map[string]bool{}
	for _, e := range book {
		seen[e.ID] = true
	}
	if !seen[bID] || !seen[cID] {
		t.Fatalf("book %+v", book)
	}

	// Disconnect b; unknown and bad IDs.
	api.expect("DELETE", "/peers/"+bID, "", 200, "", nil)
	testutil.Eventually(t, 10*time.Second, "b disconnected", func() bool { _, ok := a.Peer(b.ID()); return !ok })
	api.expect("DELETE", "/peers/"+unknown, "", 404, "unknown_peer", nil)
	api.expect("DELETE", "/peers/xyz", "", 400, "bad_id", nil)
	api.expect("DELETE", "/peers/"+cID+"?must_connect=maybe", "", 400, "bad_parameter", nil)
	// Dropping c's must-connect status and its connection.
	api.expect("DELETE", "/peers/"+cID+"?must_connect=false", "", 200, "", nil)
	if len(a.MustConnect()) != 0 {
		t.Fatalf("must-connect list %v", a.MustConnect())
	}

	// Bans.
	var bans []Ban
	api.expect("GET", "/bans", "", 200, "", &bans)
	if len(bans) != 0 {
		t.Fatalf("bans %+v", bans)
	}
	var ban Ban
	api.expect("POST", "/bans", `{"id":"`+bID+`","duration":"1h","reason":"testing"}`, 201, "", &ban)
	if ban.ID != bID || ban.Reason != "testing" || time.Until(ban.Until) < 59*time.Minute {
		t.Fatalf("ban %+v", ban)
	}
	api.expect("GET", "/bans", "", 200, "", &bans)
	if len(bans) != 1 || bans[0].ID != bID {
		t.Fatalf("bans %+v", bans)
	}
	api.expect("POST", "/peers", `{"addr":"`+b.ListenAddr().String()+`"}`, 409, "banned", nil)
	for _, tc := range []struct{ body, code string }{
		{`{"id":"zz","duration":"1h"}`, "bad_id"},
		{`{"id":"` + bID + `","duration":"soon"}`, "bad_duration"},
		{`{"id":"` + bID + `","duration":"-1h"}`, "bad_duration"},
		{`{"id":"` + bID + `","duration":"100000h"}`, "bad_duration"},
		{`{"id":"` + bID + `"}`, "bad_duration"},
		{`{"id":"` + a.ID().String() + `","duration":"1h"}`, "self"},
		{`{"id":"` + bID + `","duration":"1h","reason":"` + strings.Repeat("r", 300) + `"}`, "bad_reason"},
		{`{"id":"` + bID + `","duration":1}`, "bad_body"},
		{`nonsense`, "bad_body"},
	} {
		api.expect("POST", "/bans", tc.body, 400, tc.code, nil)
	}
	api.expect("DELETE", "/bans/"+bID, "", 204, "", nil)
	api.expect("DELETE", "/bans/"+bID, "", 404, "not_banned", nil)
	api.expect("DELETE", "/bans/nope", "", 400, "bad_target", nil)

	// Methods and paths.
	status, hdr, _ := api.do("PUT", "/peers", `{}`)
	if status != 405 || !strings.Contains(hdr.Get("Allow"), "POST") {
		t.Fatalf("PUT /peers: %d, Allow %q", status, hdr.Get("Allow"))
	}
	api.expect("PATCH", "/peers/"+bID, "", 405, "method_not_allowed", nil)
	api.expect("POST", "/book", "", 405, "method_not_allowed", nil)
	api.expect("GET", "/bans/"+bID, "", 405, "method_not_allowed", nil)
	api.expect("GET", "/nowhere", "", 404, "not_found", nil)

	// Metrics.
	status, hdr, body := api.do("GET", "/metrics", "")
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") || !bytes.Contains(body, []byte("peerwire_book_entries")) {
		t.Fatalf("metrics: %d %q\n%s", status, hdr.Get("Content-Type"), body)
	}
	bare := httptest.NewServer(New(a, Options{}))
	defer bare.Close()
	client{t: t, base: bare.URL}.expect("GET", "/metrics", "", 404, "metrics_disabled", nil)
}

func TestToken(t *testing.T) {
	a := startNode(t, 4, pb.NodeRole_NODE_ROLE_FULL)
	srv := httptest.NewServer(New(a, Options{Token: "s3cret", Metrics: metrics.Handler(a)}))
	defer srv.Close()
	for _, path := range []string{"/peers", "/book", "/bans", "/metrics", "/peers/" + a.ID().String()} {
		for _, tok := range []string{"", "wrong", "s3cret2", "s3cre"} {
			c := client{t: t, base: srv.URL, token: tok}
			status, hdr, _ := c.do("GET", path, "")
			if status != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("GET %s with token %q: %d", path, tok, status)
			}
		}
	}
	// Other schemes and a bare token are refused too.
	req, _ := http.NewRequest("GET", srv.URL+"/peers", nil)
	req.Header.Set("Authorization", "Basic czNjcmV0")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("basic auth: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	client{t: t, base: srv.URL}.expect("POST", "/bans", `{"id":"`+strings.Repeat("ab", crypto.IDLen)+`","duration":"1h"}`, 401, "unauthorized", nil)
	// With the token everything works; /healthz needs none.
	ok := client{t: t, base: srv.URL, token: "s3cret"}
	ok.expect("GET", "/peers", "", 200, "", nil)
	ok.expect("GET", "/metrics", "", 200, "", nil)
	client{t: t, base: srv.URL}.expect("GET", "/healthz", "", 200, "", nil)
}
