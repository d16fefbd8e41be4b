package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peerwire/peerwire/crypto"
)

// writeConfig writes a config file into a fresh home and returns the home.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, configFileName), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

// TestNodeLayers: flag > environment > file > default, per setting, with
// the origin of each value recorded.
func TestNodeLayers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		file      string // config file body ("" for none)
		env       map[string]string
		args      []string
		network   string
		maxIn     int
		bootstrap int
		where     string // sources["network"], with HOME for the home
	}{
		{name: "default", network: "peerwire", maxIn: 40},
		{name: "file", file: "network = \"from-file\"\nmax_inbound = 7\nbootstrap = [\"10.0.0.1:1\", \"10.0.0.2:1\"]\n",
			network: "from-file", maxIn: 7, bootstrap: 2, where: "HOME/config.toml:1: network"},
		{name: "env over file", file: "network = \"from-file\"\nmax_inbound = 7\n", env: map[string]string{"PEERWIRE_NETWORK": "from-env"},
			network: "from-env", maxIn: 7, where: "PEERWIRE_NETWORK"},
		{name: "flag over env and file", file: "\n\nnetwork = \"from-file\"\n", env: map[string]string{"PEERWIRE_NETWORK": "from-env", "PEERWIRE_MAX_INBOUND": "3"},
			args: []string{"-network", "from-flag"}, network: "from-flag", maxIn: 3},
		{name: "empty env beats file", file: "bootstrap = [\"10.0.0.1:1\"]\n", env: map[string]string{"PEERWIRE_BOOTSTRAP": ""},
			network: "peerwire", maxIn: 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			if tc.file != "" {
				home = writeConfig(t, tc.file)
			}
			env := map[string]string{"PEERWIRE_HOME": home}
			for k, v := range tc.env {
				env[k] = v
			}
			o, cfg, err := parseNode(tc.args, fakeEnv(env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.NetworkID != tc.network || cfg.Peers.MaxInbound != tc.maxIn || len(cfg.Bootstrap) != tc.bootstrap {
				t.Fatalf("network %q max-inbound %d bootstrap %v", cfg.NetworkID, cfg.Peers.MaxInbound, cfg.Bootstrap)
			}
			if want := strings.ReplaceAll(tc.where, "HOME", home); o.src["network"] != want {
				t.Fatalf("network from %q, want %q", o.src["network"], want)
			}
			if o.configLoaded != (tc.file != "") {
				t.Fatalf("config loaded %v", o.configLoaded)
			}
			if cfg.DataDir != filepath.Join(home, "data") {
				t.Fatalf("data dir %s", cfg.DataDir)
			}
		})
	}
}

// TestNodeHomeAndConfigPath: -home beats PEERWIRE_HOME beats ~/.peerwire;
// -config (or PEERWIRE_CONFIG) names the file, which must then exist;
// -data-dir still wins over <home>/data.
func TestNodeHomeAndConfigPath(t *testing.T) {
	h1 := writeConfig(t, "network = \"h1\"\n")
	h2 := writeConfig(t, "network = \"h2\"\n")
	other := filepath.Join(writeConfig(t, "network = \"other\"\n"), configFileName)
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		network string
		dataDir string
	}{
		{"HOME", nil, map[string]string{"HOME": filepath.Dir(h1)}, "peerwire", filepath.Join(filepath.Dir(h1), ".peerwire", "data")},
		{"PEERWIRE_HOME", nil, map[string]string{"PEERWIRE_HOME": h1}, "h1", filepath.Join(h1, "data")},
		{"-home over PEERWIRE_HOME", []string{"-home", h2}, map[string]string{"PEERWIRE_HOME": h1}, "h2", filepath.Join(h2, "data")},
		{"-config", []string{"-home", h2, "-config", other}, nil, "other", filepath.Join(h2, "data")},
		{"PEERWIRE_CONFIG", []string{"-home", h2}, map[string]string{"PEERWIRE_CONFIG": other}, "other", filepath.Join(h2, "data")},
		{"-data-dir", []string{"-home", h2, "-data-dir", "elsewhere"}, nil, "h2", "elsewhere"},
		{"data_dir in file", []string{"-config", filepath.Join(writeConfig(t, "data_dir = \"/srv/pw\"\n"), configFileName)}, nil, "peerwire", "/srv/pw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, cfg, err := parseNode(tc.args, fakeEnv(tc.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.NetworkID != tc.network || cfg.DataDir != tc.dataDir {
				t.Fatalf("network %q data dir %q", cfg.NetworkID, cfg.DataDir)
			}
		})
	}
	_, _, err := parseNode([]string{"-config", filepath.Join(h1, "missing.toml")}, fakeEnv(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Fatalf("missing -config: %v", err)
	}
}

// TestNodeSettingErrorsNameOrigin: a bad value names the flag and where
// it came from: the flag, the variable, or file:line.
func TestNodeSettingErrorsNameOrigin(t *testing.T) {
	long := strings.Repeat("c", 65)
	for _, tc := range []struct {
		name string
		file string
		env  map[string]string
		args []string
		want []string // substrings, HOME replaced by the home
	}{
		{"flag", "", nil, []string{"-role", "king"}, []string{"-role: ", "king"}},
		{"variable", "", map[string]string{"PEERWIRE_ROLE": "king"}, nil, []string{"PEERWIRE_ROLE (-role): ", "king"}},
		{"file value", "# c\nnetwork = \"x\"\nrole = \"king\"\n", nil, nil, []string{"HOME/config.toml:3: role (-role): ", "king"}},
		{"file type", "max_inbound = \"many\"\n", nil, nil, []string{"HOME/config.toml:1: max_inbound (-max-inbound)", "many"}},
		{"file list where none fits", "role = [\"full\"]\n", nil, nil, []string{"HOME/config.toml:1: role", "list"}},
		{"unknown key", "network = \"x\"\n\nmax_inboud = 3\n", nil, nil, []string{"HOME/config.toml:3: unknown setting \"max_inboud\""}},
		{"home key", "home = \"/x\"\n", nil, nil, []string{"HOME/config.toml:1: unknown setting \"home\""}},
		{"table", "[p2p]\nnetwork = \"x\"\n", nil, nil, []string{"HOME/config.toml:", "p2p", "top-level"}},
		{"syntax", "network = \n", nil, nil, []string{"HOME/config.toml:1"}},
		{"chain too long, flag", "", nil, []string{"-chain", long}, []string{"-chain: 65 bytes: at most 64"}},
		{"chain too long, file", "chain = \"" + long + "\"\n", nil, nil, []string{"HOME/config.toml:1: chain (-chain): 65 bytes"}},
		{"listen port", "", nil, []string{"-listen", "127.0.0.1:70000"}, []string{"-listen: ", "70000", "0-65535"}},
		{"listen port, variable", "", map[string]string{"PEERWIRE_LISTEN": ":70000"}, nil, []string{"PEERWIRE_LISTEN (-listen): "}},
		{"admin port", "", nil, []string{"-admin", "127.0.0.1:99999"}, []string{"-admin: ", "99999"}},
		{"metrics off loopback, no token", "", nil, []string{"-metrics", "0.0.0.0:9"}, []string{"-metrics: ", "token"}},
		{"metrics port", "", nil, []string{"-metrics", "127.0.0.1:x"}, []string{"-metrics: "}},
		{"max-inbound range", "max_inbound = -2\n", nil, nil, []string{"HOME/config.toml:1: max_inbound (-max-inbound): -2"}},
		{"nat, flag", "", nil, []string{"-nat", "stun"}, []string{`-nat: "stun": `}},
		{"nat, variable", "", map[string]string{"PEERWIRE_NAT": "stun"}, nil, []string{`PEERWIRE_NAT (-nat): "stun": `}},
		{"nat, file", "nat = \"stun\"\n", nil, nil, []string{`HOME/config.toml:1: nat (-nat): "stun": `}},
		{"config missing, flag", "", nil, []string{"-config", "HOME/none.toml"}, []string{"-config: ", "none.toml"}},
		{"config missing, variable", "", map[string]string{"PEERWIRE_CONFIG": "HOME/none.toml"}, nil, []string{"PEERWIRE_CONFIG (-config): ", "none.toml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			if tc.file != "" {
				home = writeConfig(t, tc.file)
			}
			env := map[string]string{"PEERWIRE_HOME": home}
			for k, v := range tc.env {
				env[k] = strings.ReplaceAll(v, "HOME", home)
			}
			var args []string
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "HOME", home))
			}
			_, _, err := parseNode(args, fakeEnv(env), io.Discard)
			if err == nil || !errors.As(err, new(usageError)) {
				t.Fatalf("err %v, want a usage error", err)
			}
			for _, w := range tc.want {
				if w = strings.ReplaceAll(w, "HOME", home); !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
		})
	}
}

// TestTokenFileMode: a token file others can read is refused, like the
// key file.
func TestTokenFileMode(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o400, true}, {0o640, false}, {0o644, false}, {0o604, false}} {
		path := filepath.Join(dir, "tok")
		os.Remove(path)
		if err := os.WriteFile(path, []byte("secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		for _, fl := range []string{"admin-token-file", "metrics-token-file"} {
			_, _, err := parseNode([]string{"-metrics", "127.0.0.1:0", "-" + fl, path}, fakeEnv(map[string]string{"PEERWIRE_HOME": dir}), io.Discard)
			if tc.ok != (err == nil) {
				t.Fatalf("%s mode %04o: err %v", fl, tc.mode, err)
			}
			if err != nil && (!strings.Contains(err.Error(), "-"+fl) || !strings.Contains(err.Error(), "chmod 600")) {
				t.Fatalf("%s mode %04o: %v", fl, tc.mode, err)
			}
		}
	}
}

// TestInit: init writes a config with every node setting, which reads
// back as the defaults, and a key where node reads it; it refuses to
// overwrite without -force and never replaces the key.
func TestInit(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"init", "-home", home}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	keyPath := filepath.Join(home, "data", "node.key")
	id, err := crypto.LoadKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), id.ID().String()) {
		t.Fatalf("output %q lacks the ID", out.String())
	}
	text, err := os.ReadFile(filepath.Join(home, configFileName))
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	defineNodeFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "home" || f.Name == "config" {
			return
		}
		if !strings.Contains(string(text), "\n"+fileKey(f.Name)+" = ") && !strings.Contains(string(text), "\n# "+fileKey(f.Name)+" = ") {
			t.Errorf("config lacks %s", fileKey(f.Name))
		}
	})
	// Read back: the same configuration as no file at all.
	o1, cfg1, err := parseNode([]string{"-home", home}, fakeEnv(nil), io.Discard)
	if err != nil {
		t.Fatalf("generated config: %v", err)
	}
	if !o1.configLoaded || len(o1.src) < 20 {
		t.Fatalf("loaded %v, %d settings from the file", o1.configLoaded, len(o1.src))
	}
	empty := t.TempDir()
	_, cfg0, err := parseNode([]string{"-home", empty}, fakeEnv(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg0.DataDir, cfg1.DataDir = "", ""
	if a, b := strings.ReplaceAll(sprintCfg(cfg0), empty, home), sprintCfg(cfg1); a != b {
		t.Fatalf("generated file changes the defaults:\n%s\n%s", a, b)
	}
	if cfg, _ := parseNodeCfg(t, home); cfg != filepath.Join(home, "data") {
		t.Fatalf("data dir %s", cfg)
	}
	// Again: refused; with -force the config is rewritten, the key kept.
	errb.Reset()
	if code := run(context.Background(), []string{"init", "-home", home}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "-force") {
		t.Fatalf("second init: exit %d %s", code, errb.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"init", "-home", home, "-force"}, &out, &errb); code != 0 {
		t.Fatalf("init -force: exit %d %s", code, errb.String())
	}
	if id2, err := crypto.LoadKeyFile(keyPath); err != nil || id2.ID() != id.ID() || !strings.Contains(out.String(), "kept") {
		t.Fatalf("key replaced: %v %s", err, out.String())
	}
	if fi, err := os.Stat(filepath.Join(home, configFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config mode: %v %v", err, fi.Mode())
	}
}

func sprintCfg(c any) string { return strings.ReplaceAll(sprint(c), " ", "\n") }

func parseNodeCfg(t *testing.T, home string) (string, error) {
	_, cfg, err := parseNode([]string{"-home", home}, fakeEnv(nil), io.Discard)
	return cfg.DataDir, err
}

func sprint(v any) string { return fmt.Sprintf("%+v", v) }

// TestLibErrorNamesFlag: an error of p2p.New or Start that names a
// Config field is reported under the flag, with the value's origin.
func TestLibErrorNamesFlag(t *testing.T) {
	o := &nodeOptions{src: sources{"chain": "PEERWIRE_CHAIN", "listen": "/h/config.toml:4: listen"}}
	for _, tc := range []struct {
		err  error
		bind bool
		want string
	}{
		{errors.New("p2p: conn: SecureConfig.ChainID must be at most 64 bytes, is 70"), false, "PEERWIRE_CHAIN (-chain): must be at most 64 bytes, is 70"},
		{errors.New("p2p: Config.MustConnect[0]: bad"), false, "-must-connect: [0]: bad"},
		{fmt.Errorf("p2p: Config.ListenAddr: %w", &net.OpError{Op: "listen", Net: "tcp", Err: errors.New("bind: address already in use")}), true,
			"/h/config.toml:4: listen (-listen): listen tcp: bind: address already in use"},
	} {
		err := o.libError(tc.err)
		if got := err.Error(); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.err, got, tc.want)
		}
		if errors.As(err, new(bindError)) != tc.bind || errors.As(err, new(usageError)) == tc.bind {
			t.Errorf("%v: class %T", tc.err, err)
		}
	}
	plain := errors.New("p2p: something else")
	if o.libError(plain) != plain {
		t.Error("unmapped error changed")
	}
}
