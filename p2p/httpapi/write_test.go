package httpapi

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/proto/pb"
)

// TestAPIWriteSide: GET /peers counts the peers; DELETE /peers/{id} says
// whether the peer may be redialed, and ?forget=true takes it out of the
// book too; DELETE /book/{id} removes a book entry.
func TestAPIWriteSide(t *testing.T) {
	a := startQuietNode(t, 10, pb.NodeRole_NODE_ROLE_VALIDATOR)
	b := startQuietNode(t, 11, pb.NodeRole_NODE_ROLE_FULL)
	c := startQuietNode(t, 12, pb.NodeRole_NODE_ROLE_FULL)
	srv := httptest.NewServer(New(a, Options{}))
	defer srv.Close()
	api := client{t: t, base: srv.URL}
	unknown := strings.Repeat("cd", crypto.IDLen)
	inBook := func(id crypto.ID) bool {
		for _, e := range a.BookEntries() {
			if e.Addr.ID == id {
				return true
			}
		}
		return false
	}

	var list PeerList
	api.expect("GET", "/peers", "", 200, "", &list)
	if list.Count != 0 || len(list.Peers) != 0 {
		t.Fatalf("before dialing: %+v", list)
	}
	for _, n := range []string{b.ListenAddr().String(), c.ListenAddr().String()} {
		api.expect("POST", "/peers", `{"addr":"`+n+`"}`, 201, "", nil)
	}
	api.expect("GET", "/peers", "", 200, "", &list)
	if list.Count != 2 || len(list.Peers) != 2 {
		t.Fatalf("after dialing two: count %d, %d peers", list.Count, len(list.Peers))
	}

	for _, tc := range []struct {
		name      string
		peer      crypto.ID
		query     string
		status    int
		code      string
		forgotten bool
	}{
		{"bad forget", b.ID(), "?forget=perhaps", 400, "bad_parameter", false},
		{"keep in book", b.ID(), "", 200, "", false},
		{"forget", c.ID(), "?forget=true", 200, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dr DisconnectResponse
			api.expect("DELETE", "/peers/"+tc.peer.String()+tc.query, "", tc.status, tc.code, &dr)
			if tc.status != 200 {
				return
			}
			if dr.ID != tc.peer.String() || !dr.Disconnected || dr.Forgotten != tc.forgotten || dr.MayRedial == tc.forgotten || dr.Note == "" {
				t.Fatalf("response %+v", dr)
			}
			if inBook(tc.peer) == tc.forgotten {
				t.Fatalf("in book after disconnect%s: %v", tc.query, inBook(tc.peer))
			}
		})
	}

	// DELETE /book/{id}.
	testutil.Eventually(t, 10*time.Second, "b disconnected", func() bool { _, ok := a.Peer(b.ID()); return !ok })
	var rr BookRemoveResponse
	api.expect("DELETE", "/book/"+b.ID().String(), "", 200, "", &rr)
	if rr.ID != b.ID().String() || !rr.Removed || inBook(b.ID()) {
		t.Fatalf("book remove %+v, in book %v", rr, inBook(b.ID()))
	}
	api.expect("DELETE", "/book/"+unknown, "", 404, "unknown_peer", nil)
	api.expect("DELETE", "/book/zz", "", 400, "bad_id", nil)
}

// startQuietNode is startNode without filling from the book or PEX, so
// only the API's requests connect: a disconnected peer does not dial back
// on its own and re-enter the book while the test looks.
func startQuietNode(t testing.TB, i int, role pb.NodeRole) *p2p.Node {
	t.Helper()
	return startTestPeer(t, fmt.Sprintf("httpapi-%d", i), func(c *p2p.Config) {
		c.Role, c.FillInterval, c.PexInterval = role, time.Hour, time.Hour
	})
}
