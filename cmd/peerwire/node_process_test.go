package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/p2p/httpapi"
)

// nodeProc is a "peerwire node" process: the test binary re-executed as
// the command (see TestMain).
type nodeProc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	log    *os.File
	done   chan struct{}
	err    error
	admin  string
	listen string
}

func startNodeProc(t *testing.T, name, admin, listen string, args ...string) *nodeProc {
	t.Helper()
	return startNodeProcAt(t, "debug", name, admin, listen, args...)
}

// startNodeProcAt is startNodeProc with -log-level level ("": the
// default level).
func startNodeProcAt(t *testing.T, level, name, admin, listen string, args ...string) *nodeProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	full := []string{"node", "-admin", admin, "-listen", listen, "-network", "process-test", "-allow-loopback"}
	if level != "" {
		full = append(full, "-log-level", level)
	}
	full = append(full, args...)
	cmd := exec.Command(exe, full...)
	var env []string
	for _, kv := range os.Environ() { // the test controls every PEERWIRE_ variable
		if !strings.HasPrefix(kv, envPrefix) {
			env = append(env, kv)
		}
	}
	// A home of its own: the real ~/.peerwire is never read.
	cmd.Env = append(env, asMainEnv+"=1", envName("home")+"="+t.TempDir())
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &nodeProc{t: t, name: name, cmd: cmd, log: logf, done: make(chan struct{}), admin: admin, listen: listen}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.signal(syscall.SIGKILL)
		<-p.done
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("--- %s log:\n%s", name, b)
		}
	})
	return p
}

func (p *nodeProc) signal(s syscall.Signal) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(s)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *nodeProc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.t.Fatalf("%s did not exit within %v", p.name, d)
	}
	return p.cmd.ProcessState.ExitCode()
}

var testHTTP = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func getJSON(addr, path string, out any) error {
	resp, err := testHTTP.Get("http://" + addr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (p *nodeProc) health(t *testing.T) httpapi.Health {
	t.Helper()
	var h httpapi.Health
	testutil.Eventually(t, 20*time.Second, p.name+" admin API", func() bool {
		select {
		case <-p.done:
			t.Fatalf("%s exited: %v", p.name, p.err)
		default:
		}
		return getJSON(p.admin, "/healthz", &h) == nil
	})
	return h
}

func (p *nodeProc) hasPeer(id string) bool {
	var list httpapi.PeerList
	if getJSON(p.admin, "/peers", &list) != nil {
		return false
	}
	for _, x := range list.Peers {
		if x.ID == id {
			return true
		}
	}
	return false
}

// freeWildcardPort returns a port free right now on every address, for a
// listener on 0.0.0.0. A port free on 127.0.0.1 (freeAddrs) may be taken
// on another loopback address — the p2p tests listen on 127.x.0.1 — and
// then binding 0.0.0.0 to it fails: TestNodeProcessAdminToken did, with
// "bind: address already in use", while other packages' tests ran.
func freeWildcardPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// freeAddrs returns n loopback addresses with ports free right now.
func freeAddrs(t *testing.T, n int) []string {
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// TestTwoNodeProcesses runs two "peerwire node" processes: B bootstraps
// from A, each lists the other through its admin API; B is killed with
// SIGKILL and restarted without a bootstrap list, and reconnects to A from
// the book it saved; both then stop gracefully on SIGTERM.
func TestTwoNodeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	addrs := freeAddrs(t, 4)
	aAdmin, aListen, bAdmin, bListen := addrs[0], addrs[1], addrs[2], addrs[3]
	dir := t.TempDir()
	aDir, bDir := filepath.Join(dir, "a"), filepath.Join(dir, "b")

	a := startNodeProc(t, "a", aAdmin, aListen, "-data-dir", aDir)
	aID := a.health(t).ID
	b := startNodeProc(t, "b", bAdmin, bListen, "-data-dir", bDir, "-bootstrap", aID+"@"+aListen, "-save-interval", "100ms")
	bID := b.health(t).ID

	testutil.Eventually(t, 20*time.Second, "A and B list each other", func() bool { return a.hasPeer(bID) && b.hasPeer(aID) })

	// The peers command, a client of the admin API, shows the same.
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"peers", "-admin", aAdmin}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), bID) || !strings.Contains(out.String(), "inbound") {
		t.Fatalf("peers: exit %d\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"book", "-admin", bAdmin}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), aID+"@"+aListen) {
		t.Fatalf("book: exit %d\n%s%s", code, out.String(), errb.String())
	}

	// B's book on disk knows A before B is killed.
	bookFile := filepath.Join(bDir, "peerbook.json")
	testutil.Eventually(t, 10*time.Second, "B's book saved with A", func() bool {
		data, err := os.ReadFile(bookFile)
		return err == nil && bytes.Contains(data, []byte(aID))
	})
	b.signal(syscall.SIGKILL)
	b.wait(10 * time.Second)
	testutil.Eventually(t, 20*time.Second, "A to notice B is gone", func() bool { return !a.hasPeer(bID) })

	// Restart B with no bootstrap list: only its book can lead it to A.
	b2 := startNodeProc(t, "b-restarted", bAdmin, bListen, "-data-dir", bDir)
	if id := b2.health(t).ID; id != bID {
		t.Fatalf("restarted B has ID %s, want %s (same key file)", id, bID)
	}
	testutil.Eventually(t, 20*time.Second, "restarted B and A list each other", func() bool { return b2.hasPeer(aID) && a.hasPeer(bID) })
	var list httpapi.PeerList
	if err := getJSON(bAdmin, "/peers", &list); err != nil || list.Count != 1 || len(list.Peers) != 1 || list.Peers[0].Direction != "outbound" {
		t.Fatalf("restarted B's peers: %v %+v", err, list)
	}

	// Graceful stop: exit status 0, goaway and book saved.
	b2.signal(syscall.SIGTERM)
	a.signal(syscall.SIGTERM)
	if code := b2.wait(15 * time.Second); code != 0 {
		t.Fatalf("B exit status %d", code)
	}
	if code := a.wait(15 * time.Second); code != 0 {
		t.Fatalf("A exit status %d", code)
	}
	// A saves its book only every minute by default: B is in it because
	// the book was saved at the graceful stop.
	if data, err := os.ReadFile(filepath.Join(aDir, "peerbook.json")); err != nil || !bytes.Contains(data, []byte(bID)) {
		t.Fatalf("A's book after stop lacks B: %v", err)
	}
	for _, p := range []*nodeProc{a, b2} {
		logText, _ := os.ReadFile(p.log.Name())
		if !bytes.Contains(logText, []byte("msg=stopped")) {
			t.Fatalf("%s log lacks the stop:\n%s", p.name, logText)
		}
	}
}

// TestNodeProcessAdminRule: a node asked to serve its admin API on a
// non-loopback address without a token refuses to start, naming the flag.
func TestNodeProcessAdminRule(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"node", "-data-dir", t.TempDir(), "-listen", "127.0.0.1:0", "-admin", "0.0.0.0:0"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "-admin") || !strings.Contains(errb.String(), "token") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// TestNodeProcessAdminToken: bound to all interfaces with a token file, the
// node says at start that a token is required and enforces it.
func TestNodeProcessAdminToken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	addrs := freeAddrs(t, 2)
	port := freeWildcardPort(t)
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("let-me-in\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startNodeProc(t, "tok", "0.0.0.0:"+port, addrs[1], "-data-dir", t.TempDir(), "-admin-token-file", tok)
	local := "127.0.0.1:" + port
	p.admin = local
	p.health(t) // /healthz needs no token
	get := func(token string) int {
		req, _ := http.NewRequest("GET", "http://"+local+"/peers", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := testHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get(""); s != 401 {
		t.Fatalf("no token: %d", s)
	}
	if s := get("let-me-inn"); s != 401 {
		t.Fatalf("wrong token: %d", s)
	}
	if s := get("let-me-in"); s != 200 {
		t.Fatalf("token: %d", s)
	}
	// The client commands send the token from a file.
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"bans", "-admin", local, "-admin-token-file", tok}, &out, &errb); code != 0 || !strings.Contains(out.String(), "0 bans") {
		t.Fatalf("bans: exit %d %s %s", code, out.String(), errb.String())
	}
	if code := run(context.Background(), []string{"peers", "-admin", local}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "unauthorized") {
		t.Fatalf("peers without token: exit %d %s", code, errb.String())
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	logText, _ := os.ReadFile(p.log.Name())
	if !bytes.Contains(logText, []byte("bearer token required")) {
		t.Fatalf("log does not say a token is required:\n%s", logText)
	}
}
