package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/p2p/httpapi"
)

// TestAdminClientEnv: the admin clients take the address and token from
// PEERWIRE_ADMIN and PEERWIRE_ADMIN_TOKEN, flags win, and a node's other
// variables (PEERWIRE_ROLE) do not leak into them.
func TestAdminClientEnv(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/peers" {
			w.Write([]byte(`{"count":0,"peers":[]}`))
			return
		}
		w.Write([]byte("[]"))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	t.Setenv("PEERWIRE_ADMIN", addr)
	t.Setenv("PEERWIRE_ADMIN_TOKEN", "tok")
	t.Setenv("PEERWIRE_ROLE", "validator")
	var out, errb bytes.Buffer
	for _, args := range [][]string{{"peers"}, {"peers", "-role", "seed"}, {"book"}, {"bans", "-json"}} {
		if code := run(context.Background(), args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
	}
	if code := run(context.Background(), []string{"peers", "-admin", "127.0.0.1:1"}, &out, &errb); code != 1 {
		t.Fatalf("flag over env: exit %d", code)
	}
	if code := run(context.Background(), []string{"peers", "-role", "king"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "-role") {
		t.Fatalf("bad role: exit %d %s", code, errb.String())
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"/peers Bearer tok", "/peers?role=seed Bearer tok", "/book Bearer tok", "/bans Bearer tok"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("requests %q, want %q", got, want)
	}
	if !strings.Contains(out.String(), "0 peers") || !strings.Contains(out.String(), "0 entries") || !strings.Contains(out.String(), "[]") {
		t.Fatalf("output %s", out.String())
	}
}

// TestBanCommands: "peerwire ban" bans a peer ID, an IP address or a CIDR
// prefix on a real node through its admin API (target before or after the
// flags), "peerwire bans" lists them, and "peerwire unban" lifts them; bad
// targets and durations are usage errors naming what is wrong.
func TestBanCommands(t *testing.T) {
	id, err := crypto.IdentityFromSeed(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	n, err := p2p.New(p2p.Config{Identity: id, ListenAddr: "127.0.0.1:0", NetworkID: "cli-test",
		Topics: []p2p.TopicConfig{{TopicConfig: mux.TopicConfig{ID: 1, Name: "t"}}}, ChurnInterval: -1, StatusInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer n.Stop(context.Background())
	srv := httptest.NewServer(httpapi.New(n, httpapi.Options{}))
	defer srv.Close()
	admin := strings.TrimPrefix(srv.URL, "http://")
	peer := strings.Repeat("ab", crypto.IDLen)
	runOK := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(context.Background(), append(args, "-admin", admin), &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	if out := runOK("ban", peer, "-for", "2h", "-reason", "spam"); !strings.Contains(out, "banned "+peer) || !strings.Contains(out, "spam") {
		t.Fatalf("ban ID: %s", out)
	}
	if out := runOK("ban", "-reason", "flood", "192.0.2.7"); !strings.Contains(out, "banned 192.0.2.7") {
		t.Fatalf("ban IP: %s", out)
	}
	runOK("ban", "198.51.100.0/24")
	list := runOK("bans")
	for _, want := range []string{peer, "192.0.2.7", "198.51.100.0/24", "3 bans"} {
		if !strings.Contains(list, want) {
			t.Fatalf("bans output lacks %q:\n%s", want, list)
		}
	}
	if !n.Bans()[0].Until.After(time.Now().Add(time.Hour)) {
		t.Fatalf("bans %+v", n.Bans())
	}
	for _, target := range []string{peer, "192.0.2.7", "198.51.100.0/24"} {
		if out := runOK("unban", target); !strings.Contains(out, "unbanned "+target) {
			t.Fatalf("unban %s: %s", target, out)
		}
	}
	if len(n.Bans()) != 0 {
		t.Fatalf("bans left %+v", n.Bans())
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ban"}, 2, "missing"},
		{[]string{"ban", "nonsense"}, 2, "nonsense"},
		{[]string{"ban", "10.0.0.0/33"}, 2, "CIDR"},
		{[]string{"ban", peer, "-for", "0s"}, 2, "-for"},
		{[]string{"ban", peer, "-for", "2000h"}, 2, "-for"},
		{[]string{"ban", peer, "extra"}, 2, "extra"},
		{[]string{"ban", "0.0.0.0/0"}, 1, "bad_prefix"},
		{[]string{"unban", "192.0.2.8"}, 1, "not_banned"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(tc.args, "-admin", admin), &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
}

// TestWriteCommands: "peerwire dial", "disconnect" (with -forget) and
// "book remove" drive a real node through its admin API; bad IDs and
// addresses are usage errors, unknown peers API errors.
func TestWriteCommands(t *testing.T) {
	newNode := func(seed byte) *p2p.Node {
		id, err := crypto.IdentityFromSeed(bytes.Repeat([]byte{seed}, 32))
		if err != nil {
			t.Fatal(err)
		}
		// No filling from the book or PEX: only the commands connect, so b
		// does not dial back on its own and re-add itself to n's book.
		n, err := p2p.New(p2p.Config{Identity: id, ListenAddr: "127.0.0.1:0", NetworkID: "cli-test", AllowLoopback: true,
			Topics: []p2p.TopicConfig{{TopicConfig: mux.TopicConfig{ID: 1, Name: "t"}}}, ChurnInterval: -1, StatusInterval: -1,
			FillInterval: time.Hour, PexInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Stop(context.Background()) })
		return n
	}
	n, b := newNode(21), newNode(22)
	srv := httptest.NewServer(httpapi.New(n, httpapi.Options{}))
	defer srv.Close()
	admin := strings.TrimPrefix(srv.URL, "http://")
	runOK := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(context.Background(), append(args, "-admin", admin), &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	inBook := func() bool {
		for _, e := range n.BookEntries() {
			if e.Addr.ID == b.ID() {
				return true
			}
		}
		return false
	}
	bID := b.ID().String()
	if out := runOK("dial", b.ListenAddr().String()); !strings.Contains(out, "dialed "+bID+": connected") {
		t.Fatalf("dial: %s", out)
	}
	if _, ok := n.Peer(b.ID()); !ok || !inBook() {
		t.Fatalf("after dial: connected %v, in book %v", ok, inBook())
	}
	if out := runOK("peers"); !strings.Contains(out, bID) || !strings.Contains(out, "1 peers") {
		t.Fatalf("peers: %s", out)
	}
	if out := runOK("disconnect", bID); !strings.Contains(out, "disconnected "+bID) || !strings.Contains(out, "may be redialed") {
		t.Fatalf("disconnect: %s", out)
	}
	if !inBook() {
		t.Fatal("a plain disconnect removed the peer from the book")
	}
	if out := runOK("book", "remove", bID); !strings.Contains(out, "removed "+bID) {
		t.Fatalf("book remove: %s", out)
	}
	if inBook() {
		t.Fatal("book remove left the peer in the book")
	}
	disconnected := func() bool { _, ok := n.Peer(b.ID()); return !ok }
	testutil.Eventually(t, 10*time.Second, "b disconnected", disconnected)
	runOK("dial", b.ListenAddr().String())
	if out := runOK("disconnect", "-forget", bID); !strings.Contains(out, "removed from the book") {
		t.Fatalf("disconnect -forget: %s", out)
	}
	testutil.Eventually(t, 10*time.Second, "b disconnected again", disconnected)
	if inBook() {
		t.Fatal("disconnect -forget left the peer in the book")
	}
	unknown := strings.Repeat("ef", crypto.IDLen)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"dial"}, 2, "missing"},
		{[]string{"dial", "no port"}, 2, "no port"},
		{[]string{"disconnect"}, 2, "missing"},
		{[]string{"disconnect", "zz"}, 2, "peer ID"},
		{[]string{"disconnect", unknown}, 1, "unknown_peer"},
		{[]string{"book", "remove", "zz"}, 2, "peer ID"},
		{[]string{"book", "remove", unknown}, 1, "unknown_peer"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(tc.args, "-admin", admin), &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
}
