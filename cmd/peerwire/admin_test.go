package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
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
