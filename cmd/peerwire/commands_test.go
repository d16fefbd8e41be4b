package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/crypto"
)

// TestKeygenWritesWhereNodeReads: keygen's default key is the one node
// and id use, under the home directory.
func TestKeygenWritesWhereNodeReads(t *testing.T) {
	home := t.TempDir()
	t.Setenv(envName("home"), home)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"keygen", "-host", "192.0.2.9"}, &out, &errb); code != 0 {
		t.Fatalf("keygen: exit %d %s", code, errb.String())
	}
	id, err := crypto.LoadKeyFile(filepath.Join(home, "data", "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	_, cfg, err := parseNode(nil, fakeEnv(map[string]string{envName("home"): home}), io.Discard)
	if err != nil || filepath.Join(cfg.DataDir, keyFileName) != filepath.Join(home, "data", "node.key") {
		t.Fatalf("node reads %s (%v)", cfg.DataDir, err)
	}
	want := id.ID().String() + "@192.0.2.9:26656"
	if !strings.Contains(out.String(), want) {
		t.Fatalf("keygen printed %q, want %s", out.String(), want)
	}
	out.Reset()
	if code := run(context.Background(), []string{"id", "-host", "192.0.2.9"}, &out, &errb); code != 0 || !strings.Contains(out.String(), want) {
		t.Fatalf("id: exit %d %q %s", code, out.String(), errb.String())
	}
	// Without -host the address is not loopback.
	out.Reset()
	if code := run(context.Background(), []string{"id"}, &out, &errb); code != 0 || strings.Contains(out.String(), "@127.") {
		t.Fatalf("id: exit %d %q", code, out.String())
	}
	// No key: a message saying how to make one.
	errb.Reset()
	if code := run(context.Background(), []string{"id", "-home", t.TempDir()}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "peerwire init") {
		t.Fatalf("id without key: exit %d %s", code, errb.String())
	}
}

func TestFirstPublicAddr(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		in   []netip.Addr
		want string
	}{
		{nil, publicIPPlaceholder},
		{[]netip.Addr{a("127.0.0.1"), a("::1"), a("fe80::1")}, publicIPPlaceholder},
		{[]netip.Addr{a("127.0.0.1"), a("10.0.0.5"), a("203.0.113.4")}, "10.0.0.5"},
		{[]netip.Addr{a("2001:db8::7"), a("169.254.1.1"), a("198.51.100.2")}, "198.51.100.2"},
		{[]netip.Addr{a("::1"), a("2001:db8::7")}, "2001:db8::7"},
	} {
		if got := firstPublicAddr(tc.in); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, w := range []string{"peerwire ", "commit:", "go:       go1.", "protocol: " + strconv.Itoa(conn.ProtocolVersion)} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("%q lacks %q", out.String(), w)
		}
	}
	old := stampedCommit
	stampedCommit = "abc123"
	defer func() { stampedCommit = old }()
	if b := buildInfo(); b.Commit != "abc123" {
		t.Fatalf("stamped commit %q", b.Commit)
	}
}

// TestEveryHelpOnStdout: "<command> -h" prints on stdout and exits 0.
func TestEveryHelpOnStdout(t *testing.T) {
	for _, c := range commands() {
		for _, h := range []string{"-h", "-help", "--help"} {
			var out, errb bytes.Buffer
			code := run(context.Background(), []string{c.name, h}, &out, &errb)
			if code != 0 || errb.Len() != 0 || !strings.Contains(out.String(), "usage: peerwire "+c.name) {
				t.Errorf("%s %s: exit %d, stdout %q, stderr %q", c.name, h, code, out.String(), errb.String())
			}
		}
	}
}

// TestCompletion: the scripts name every command and the node's flags;
// bash accepts its script's syntax (zsh too, when installed).
func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh"} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"completion", sh}, &out, &errb); code != 0 {
			t.Fatalf("%s: exit %d %s", sh, code, errb.String())
		}
		for _, w := range []string{"node", "keygen", "-max-inbound", "-metrics", "-config"} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s script lacks %s", sh, w)
			}
		}
		path, err := exec.LookPath(sh)
		if err != nil {
			if sh == "bash" {
				t.Fatal("bash not installed")
			}
			continue // zsh is optional here; bash is required
		}
		f := filepath.Join(t.TempDir(), "c."+sh)
		os.WriteFile(f, out.Bytes(), 0o600)
		if b, err := exec.Command(path, "-n", f).CombinedOutput(); err != nil {
			t.Fatalf("%s -n: %v %s", sh, err, b)
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"completion", "fish"}, &out, &errb); code != 2 {
		t.Fatalf("fish: exit %d", code)
	}
}

// runNodeProc runs "peerwire node" with args as a process to its end and
// returns its exit status and output.
func runNodeProc(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return runNodeProcEnv(t, []string{envName("home") + "=" + t.TempDir()}, args...)
}

// runNodeProcEnv is runNodeProc with the PEERWIRE_ variables given.
func runNodeProcEnv(t *testing.T, vars []string, args ...string) (int, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{"node", "-network", "process-test", "-log-level", "debug"}, args...)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			env = append(env, kv)
		}
	}
	cmd.Env = append(append(env, asMainEnv+"=1"), vars...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("node %v did not exit; output:\n%s", args, out.String())
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// TestNodeProcessExitCodes: one exit status per class of failure, the
// flag named, and nothing announced as running when a port is taken.
func TestNodeProcessExitCodes(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	taken := busy.Addr().String()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"busy peer port", []string{"-listen", taken, "-admin", ""}, exitBind, "-listen: listen tcp"},
		{"busy admin port", []string{"-listen", "127.0.0.1:0", "-admin", taken}, exitBind, "-admin: listen tcp"},
		{"busy metrics port", []string{"-listen", "127.0.0.1:0", "-admin", "", "-metrics", taken}, exitBind, "-metrics: listen tcp"},
		{"chain too long", []string{"-chain", strings.Repeat("c", 65)}, exitUsage, "-chain: 65 bytes"},
		{"port out of range", []string{"-listen", "127.0.0.1:70000"}, exitUsage, "-listen: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runNodeProc(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s", code, tc.code, tc.want, out)
			}
			if strings.Contains(out, "node running") {
				t.Fatalf("announced running before failing:\n%s", out)
			}
		})
	}
}

// TestNodeProcessMetrics: the -metrics listener serves read-only
// Prometheus text with the Go, process and build collectors, and asks for
// its own token when one is set.
func TestNodeProcessMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	addrs := freeAddrs(t, 2)
	tok := filepath.Join(t.TempDir(), "metrics-token")
	if err := os.WriteFile(tok, []byte("m-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freeWildcardPort(t)
	p := startNodeProc(t, "metrics", addrs[0], addrs[1], "-data-dir", t.TempDir(), "-metrics", "0.0.0.0:"+port, "-metrics-token-file", tok)
	p.health(t)
	maddr := "127.0.0.1:" + port
	get := func(method, path, token string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+maddr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := testHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("GET", "/metrics", "m-secret")
	if code != 200 {
		t.Fatalf("metrics: %d %s", code, body)
	}
	for _, w := range []string{"go_goroutines ", "process_open_fds ", `peerwire_build_info{commit=`, `protocol="` + strconv.Itoa(conn.ProtocolVersion) + `"`, "peerwire_peers"} {
		if !strings.Contains(body, w) {
			t.Errorf("metrics lack %s", w)
		}
	}
	for _, tc := range []struct {
		method, path, token string
		code                int
	}{
		{"GET", "/metrics", "", 401},
		{"GET", "/metrics", "wrong", 401},
		{"POST", "/metrics", "m-secret", 405},
		{"GET", "/peers", "m-secret", 404},
	} {
		if code, _ := get(tc.method, tc.path, tc.token); code != tc.code {
			t.Errorf("%s %s token %q: %d, want %d", tc.method, tc.path, tc.token, code, tc.code)
		}
	}
	// The admin API's /metrics carries the same collectors.
	if code, body := get("GET", "/metrics", "m-secret"); code != 200 || !strings.Contains(body, "peerwire_build_info") {
		t.Fatalf("metrics listener again: %d", code)
	}
	resp, err := testHTTP.Get("http://" + addrs[0] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "peerwire_build_info") || !strings.Contains(string(b), "go_goroutines") {
		t.Fatalf("admin /metrics lacks build info or go_*")
	}
	p.signal(15)
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestNodeProcessConfigOrigins: the real binary reads the home's config
// file, and a bad value exits 2 naming its flag and origin.
func TestNodeProcessConfigOrigins(t *testing.T) {
	home := t.TempDir()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"init", "-home", home}, &out, &errb); code != 0 {
		t.Fatalf("init: %d %s", code, errb.String())
	}
	cfgPath := filepath.Join(home, configFileName)
	text, _ := os.ReadFile(cfgPath)
	lines := strings.Split(string(text), "\n")
	roleLine := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "role = ") {
			lines[i], roleLine = `role = "king"`, i+1
		}
	}
	if err := os.WriteFile(cfgPath, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	homeVar := envName("home") + "=" + home
	for _, tc := range []struct {
		name string
		vars []string
		want string
	}{
		{"file", []string{homeVar}, cfgPath + ":" + strconv.Itoa(roleLine) + ": role (-role): \"king\""},
		{"variable over file", []string{homeVar, "PEERWIRE_ROLE=queen"}, "PEERWIRE_ROLE (-role): \"queen\""},
		{"unknown key", []string{envName("config") + "=" + filepath.Join(writeConfig(t, "\nlisten_addr = \"x\"\n"), configFileName)}, configFileName + ":2: unknown setting \"listen_addr\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runNodeProcEnv(t, tc.vars, "-listen", "127.0.0.1:0", "-admin", "")
			if code != exitUsage || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, output lacks %q:\n%s", code, tc.want, out)
			}
		})
	}
}
