package main

import (
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/p2p"
)

// TestNodeListenList: -listen takes a comma-separated list from the flag,
// its variable or the config file (a string or an array); one address is
// p2p.Config.ListenAddr, several are ListenAddrs, "-" none; a bad entry is
// named.
func TestNodeListenList(t *testing.T) {
	two := []string{"127.0.0.1:26656", "[::1]:26656"}
	for _, tc := range []struct {
		name string
		file string
		env  map[string]string
		args []string
		one  string
		many []string
	}{
		{"default", "", nil, nil, "0.0.0.0:26656", nil},
		{"flag, one", "", nil, []string{"-listen", "127.0.0.1:1"}, "127.0.0.1:1", nil},
		{"flag, two", "", nil, []string{"-listen", "127.0.0.1:26656,[::1]:26656"}, "", two},
		{"variable", "", map[string]string{"PEERWIRE_LISTEN": "127.0.0.1:26656, [::1]:26656"}, nil, "", two},
		{"file string", "listen = \"127.0.0.1:26656,[::1]:26656\"\n", nil, nil, "", two},
		{"file array", "listen = [\"127.0.0.1:26656\", \"[::1]:26656\"]\n", nil, nil, "", two},
		{"flag over file", "listen = [\"127.0.0.1:26656\", \"[::1]:26656\"]\n", nil, []string{"-listen", "-"}, "-", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tc.env {
				env[k] = v
			}
			if tc.file != "" {
				env["PEERWIRE_HOME"] = writeConfig(t, tc.file)
			}
			_, cfg, err := parseNode(tc.args, fakeEnv(env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ListenAddr != tc.one || !slices.Equal(cfg.ListenAddrs, tc.many) {
				t.Fatalf("ListenAddr %q, ListenAddrs %q; want %q, %q", cfg.ListenAddr, cfg.ListenAddrs, tc.one, tc.many)
			}
		})
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-listen", "127.0.0.1:1,nowhere"}, `-listen: entry 2 "nowhere"`},
		{[]string{"-listen", "127.0.0.1:1,-"}, `-listen: entry 2 "-"`},
		{[]string{"-listen", ","}, "-listen: no address"},
		{[]string{"-listen", "a:1,b:2,c:3,d:4,e:5"}, "-listen: 5 addresses, at most 4"},
		{[]string{"-advertise", "0.0.0.0:26656"}, "-advertise"},
	} {
		_, cfg, err := parseNode(tc.args, fakeEnv(nil), io.Discard)
		if err == nil {
			// Some refusals are the library's: New names the field, and
			// the binary maps it back to the flag.
			cfg.DataDir = t.TempDir()
			if _, err = p2p.New(cfg); err != nil {
				err = (&nodeOptions{}).libError(err)
			}
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// runningLine matches the start announcement and captures its address.
var runningLine = regexp.MustCompile(`msg="peerwire node running"(?: component=\S+)? id=[0-9a-f]{40}( address=(\S+))? advertise=(\S*) listen=(\S+)`)

// TestNodeProcessAdvertise starts the real binary: listening only on
// wildcards it warns that it has nothing dialable to advertise and
// announces no address (never ID@0.0.0.0 or ID@[::]); with -advertise,
// or listening on specific addresses (both loopbacks), it announces the
// first of them and does not warn.
func TestNodeProcessAdvertise(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const warning = "nothing dialable to advertise"
	for _, tc := range []struct {
		name     string
		listen   string
		args     []string
		address  string // "" for none; a prefix of the host:port otherwise
		warns    bool
		advCount int
	}{
		{"wildcards", "0.0.0.0:0,[::]:0", nil, "", true, 0},
		{"wildcard, one", "0.0.0.0:0", nil, "", true, 0},
		{"wildcard, advertised", "0.0.0.0:0", []string{"-advertise", "192.0.2.7:26656"}, "192.0.2.7:26656", false, 1},
		{"both loopbacks", "127.0.0.1:0,[::1]:0", nil, "127.0.0.1:", false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			admin := freeAddrs(t, 1)[0]
			p := startNodeProc(t, "adv", admin, tc.listen, append([]string{"-data-dir", t.TempDir()}, tc.args...)...)
			id := p.health(t).ID
			var m []string
			testutil.Eventually(t, 20*time.Second, "the start announcement", func() bool {
				b, _ := os.ReadFile(p.log.Name())
				m = runningLine.FindStringSubmatch(string(b))
				return m != nil
			})
			b, _ := os.ReadFile(p.log.Name())
			logText := string(b)
			address, advertise, listen := m[2], strings.Trim(m[3], `"`), m[4]
			if strings.Contains(address, "0.0.0.0") || strings.Contains(address, "[::]") ||
				strings.Contains(advertise, "0.0.0.0") || strings.Contains(advertise, "[::]") {
				t.Fatalf("a wildcard announced as shareable: %q", m[0])
			}
			if tc.address == "" && address != "" {
				t.Fatalf("address %q announced, want none", address)
			}
			if tc.address != "" && !strings.HasPrefix(address, id+"@"+tc.address) {
				t.Fatalf("address %q, want %s@%s…", address, id, tc.address)
			}
			if n := len(strings.FieldsFunc(advertise, func(r rune) bool { return r == ',' })); n != tc.advCount {
				t.Fatalf("advertise %q: %d addresses, want %d", advertise, n, tc.advCount)
			}
			if want := len(strings.Split(tc.listen, ",")); len(strings.Split(listen, ",")) != want {
				t.Fatalf("listen %q, want %d listeners", listen, want)
			}
			if strings.Contains(logText, "@0.0.0.0") || strings.Contains(logText, "@[::]") {
				t.Fatalf("the log hands out a wildcard address:\n%s", logText)
			}
			if strings.Contains(logText, warning) != tc.warns {
				t.Fatalf("warning present %v, want %v:\n%s", !tc.warns, tc.warns, logText)
			}
		})
	}
}
