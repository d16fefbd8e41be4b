package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/proto/pb"
)

// fakeHome is HOME under fakeEnv unless the map sets it: a directory
// that does not exist, so no test reads the real ~/.peerwire.
const fakeHome = "/nonexistent-peerwire-test-home"

// fakeEnv is a lookup over a map, so tests never read the real environment.
func fakeEnv(m map[string]string) lookupEnvFunc {
	return func(k string) (string, bool) {
		v, ok := m[k]
		if !ok && k == "HOME" {
			return fakeHome, true
		}
		return v, ok
	}
}

func TestNodeDefaults(t *testing.T) {
	o, cfg, err := parseNode(nil, fakeEnv(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != fakeHome+"/.peerwire/data" || cfg.ListenAddr != "0.0.0.0:26656" || cfg.NetworkID != "peerwire" || cfg.ChainID != "" ||
		cfg.Role != pb.NodeRole_NODE_ROLE_FULL || cfg.SeedMode || len(cfg.Bootstrap) != 0 || len(cfg.MustConnect) != 0 {
		t.Errorf("config %+v", cfg)
	}
	if cfg.Peers.MaxInbound != p2p.DefaultMaxInbound || cfg.Peers.MaxOutbound != p2p.DefaultMaxOutbound || cfg.Peers.MaxOutboundPerGroup != 0 {
		t.Errorf("peers %+v", cfg.Peers)
	}
	if cfg.SaveInterval != time.Minute || cfg.AllowLoopback {
		t.Errorf("save %v book %+v", cfg.SaveInterval, cfg.Book)
	}
	if len(cfg.Topics) != 3 || cfg.Topics[0].Name != "consensus" || cfg.Topics[0].Priority <= cfg.Topics[1].Priority {
		t.Errorf("topics %+v", cfg.Topics)
	}
	if cfg.DHT.Mode != p2p.DHTOff || o.dht != "off" {
		t.Errorf("dht %q %v, want off by default", o.dht, cfg.DHT.Mode)
	}
	if _, cfg, err := parseNode([]string{"-dht", "auto"}, fakeEnv(nil), io.Discard); err != nil || cfg.DHT.Mode != p2p.DHTAuto {
		t.Errorf("-dht auto: %v %v", cfg.DHT.Mode, err)
	}
	if _, cfg, err := parseNode(nil, fakeEnv(map[string]string{"PEERWIRE_DHT": "client"}), io.Discard); err != nil || cfg.DHT.Mode != p2p.DHTClient {
		t.Errorf("PEERWIRE_DHT=client: %v %v", cfg.DHT.Mode, err)
	}
	if cfg.NAT != nil || o.nat != "none" {
		t.Errorf("nat %q %v, want none by default", o.nat, cfg.NAT)
	}
	if o.admin != "127.0.0.1:26670" || o.adminToken != "" || o.logLevel != "info" || o.logFormat != "text" {
		t.Errorf("options %+v", o)
	}
}

func TestNodePrecedence(t *testing.T) {
	id1, id2 := strings.Repeat("a1", 20), strings.Repeat("b2", 20)
	env := fakeEnv(map[string]string{
		"PEERWIRE_MAX_INBOUND": "7",
		"PEERWIRE_NETWORK":     "from-env",
		"PEERWIRE_BOOTSTRAP":   id1 + "@10.0.0.1:26656," + id2 + "@10.0.0.2:26656",
		"PEERWIRE_SEED":        "true",
		"PEERWIRE_ROLE":        "validator",
		"PEERWIRE_ADMIN":       "", // set but empty: the admin API is off
		"PEERWIRE_DENY_CIDRS":  "10.9.0.0/16, 192.0.2.0/24",
	})
	// Environment over default.
	o, cfg, err := parseNode(nil, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Peers.MaxInbound != 7 || cfg.NetworkID != "from-env" || len(cfg.Bootstrap) != 2 || cfg.Bootstrap[1] != id2+"@10.0.0.2:26656" ||
		!cfg.SeedMode || cfg.Role != pb.NodeRole_NODE_ROLE_VALIDATOR || o.admin != "" || len(cfg.Filter.DenyCIDRs) != 2 {
		t.Fatalf("env: %+v %+v", o, cfg)
	}
	// Flag over environment, per flag; the others still come from the environment.
	o, cfg, err = parseNode([]string{"-max-inbound", "9", "-network", "from-flag", "-bootstrap", "", "-seed=false",
		"-admin", "127.0.0.1:1"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Peers.MaxInbound != 9 || cfg.NetworkID != "from-flag" || len(cfg.Bootstrap) != 0 || cfg.SeedMode ||
		o.admin != "127.0.0.1:1" || cfg.Role != pb.NodeRole_NODE_ROLE_VALIDATOR {
		t.Fatalf("flags: %+v %+v", o, cfg)
	}
	// As in the library: 0 means the default, -1 none.
	_, cfg, err = parseNode([]string{"-max-inbound", "0", "-max-outbound", "0"}, fakeEnv(nil), io.Discard)
	if err != nil || cfg.Peers.MaxInbound != 0 || cfg.Peers.MaxOutbound != 0 {
		t.Fatalf("zero limits: %v %+v", err, cfg.Peers)
	}
	_, cfg, err = parseNode([]string{"-max-inbound", "-1", "-max-outbound", "-1"}, fakeEnv(nil), io.Discard)
	if err != nil || cfg.Peers.MaxInbound != -1 || cfg.Peers.MaxOutbound != -1 {
		t.Fatalf("no-peer limits: %v %+v", err, cfg.Peers)
	}
	// Loopback networks.
	_, cfg, err = parseNode([]string{"-allow-loopback"}, fakeEnv(nil), io.Discard)
	if err != nil || !cfg.AllowLoopback {
		t.Fatalf("allow-loopback: %v %+v", err, cfg)
	}
	// DNS names from peers: refused unless the operator allows them.
	if cfg.AllowNetworkNames {
		t.Fatal("DNS names from peers allowed by default")
	}
	_, cfg, err = parseNode([]string{"-allow-dns-names"}, fakeEnv(nil), io.Discard)
	if err != nil || !cfg.AllowNetworkNames {
		t.Fatalf("allow-dns-names: %v %+v", err, cfg.Book)
	}
}

func TestNodeAdminToken(t *testing.T) {
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte("  file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)

	// Loopback: no token needed.
	if o, _, err := parseNode([]string{"-admin", "[::1]:9"}, fakeEnv(nil), io.Discard); err != nil || o.adminToken != "" {
		t.Fatalf("loopback: %v", err)
	}
	// Anything else requires one.
	for _, addr := range []string{"0.0.0.0:26660", ":26660", "192.0.2.1:1", "example.com:1"} {
		_, _, err := parseNode([]string{"-admin", addr}, fakeEnv(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "-admin") || !strings.Contains(err.Error(), "token") {
			t.Fatalf("%s without a token: %v", addr, err)
		}
	}
	o, _, err := parseNode([]string{"-admin", "0.0.0.0:26660"}, fakeEnv(map[string]string{"PEERWIRE_ADMIN_TOKEN": "env-token"}), io.Discard)
	if err != nil || o.adminToken != "env-token" {
		t.Fatalf("env token: %v %q", err, o.adminToken)
	}
	// The file wins over the variable, and is trimmed.
	o, _, err = parseNode([]string{"-admin", "0.0.0.0:26660", "-admin-token-file", tokFile},
		fakeEnv(map[string]string{"PEERWIRE_ADMIN_TOKEN": "env-token"}), io.Discard)
	if err != nil || o.adminToken != "file-token" {
		t.Fatalf("file token: %v %q", err, o.adminToken)
	}
	// The file's path from the environment.
	o, _, err = parseNode([]string{"-admin", "0.0.0.0:26660"}, fakeEnv(map[string]string{"PEERWIRE_ADMIN_TOKEN_FILE": tokFile}), io.Discard)
	if err != nil || o.adminToken != "file-token" {
		t.Fatalf("file token from env: %v %q", err, o.adminToken)
	}
	for _, f := range []string{filepath.Join(dir, "missing"), empty} {
		_, _, err = parseNode([]string{"-admin-token-file", f}, fakeEnv(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "-admin-token-file") {
			t.Fatalf("token file %s: %v", f, err)
		}
	}
}

func TestNodeFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want []string // substrings of the error
	}{
		{[]string{"-role", "king"}, nil, []string{"-role", "king"}},
		{[]string{"-block-gossip", "pull"}, nil, []string{"-block-gossip", "pull"}},
		{nil, map[string]string{"PEERWIRE_BLOCK_GOSSIP": "Flood"}, []string{"-block-gossip", "PEERWIRE_BLOCK_GOSSIP"}},
		{[]string{"-max-inbound", "-2"}, nil, []string{"-max-inbound"}},
		{[]string{"-max-outbound", "20000"}, nil, []string{"-max-outbound"}},
		{[]string{"-max-inbound", "many"}, nil, []string{"-max-inbound"}},
		{nil, map[string]string{"PEERWIRE_MAX_OUTBOUND": "lots"}, []string{"-max-outbound", "PEERWIRE_MAX_OUTBOUND", "lots"}},
		{nil, map[string]string{"PEERWIRE_SEED": "maybe"}, []string{"-seed", "PEERWIRE_SEED"}},
		{nil, map[string]string{"PEERWIRE_SAVE_INTERVAL": "soon"}, []string{"-save-interval", "PEERWIRE_SAVE_INTERVAL"}},
		{[]string{"-bootstrap", "nonsense"}, nil, []string{"-bootstrap", "entry 1"}},
		{nil, map[string]string{"PEERWIRE_BOOTSTRAP": "10.0.0.1:1,bad"}, []string{"-bootstrap", "entry 2"}},
		{[]string{"-must-connect", "127.0.0.1:1"}, nil, []string{"-must-connect"}},
		{[]string{"-deny-cidrs", "10.0.0.0/33"}, nil, []string{"-deny-cidrs"}},
		{[]string{"-allow-cidrs", "nope"}, nil, []string{"-allow-cidrs"}},
		{[]string{"-deny-countries", "XX1"}, nil, []string{"-deny-countries"}},
		{[]string{"-allow-countries", "DE"}, nil, []string{"-geoip-db", "-allow-countries"}},
		{[]string{"-geoip-db", "/nonexistent/country.mmdb", "-deny-countries", "DE"}, nil, []string{"-geoip-db"}},
		{[]string{"-unknown-country", "maybe"}, nil, []string{"-unknown-country"}},
		{[]string{"-log-level", "loud"}, nil, []string{"-log-level"}},
		{[]string{"-log-format", "xml"}, nil, []string{"-log-format"}},
		{[]string{"-listen", "nowhere"}, nil, []string{"-listen"}},
		{[]string{"-advertise", "x"}, nil, []string{"-advertise"}},
		{[]string{"-admin", "nowhere"}, nil, []string{"-admin"}},
		{[]string{"-save-interval", "1ms"}, nil, []string{"-save-interval"}},
		{[]string{"-network", ""}, nil, []string{"-network"}},
		{[]string{"-data-dir", ""}, nil, []string{"-data-dir"}},
		{[]string{"-bogus"}, nil, []string{"-bogus"}},
		{[]string{"stray"}, nil, []string{"unexpected argument"}},
		{[]string{"-nat", "stun"}, nil, []string{"-nat", "unknown mode"}},
		{[]string{"-dht", "sever"}, nil, []string{"-dht", "sever"}},
		{[]string{"-nat", "extip:nowhere"}, nil, []string{"-nat", "extip"}},
		{nil, map[string]string{"PEERWIRE_NAT": "pmp:fe80::1"}, []string{"-nat", "pmp"}},
		{[]string{"-nat", "upnp", "-listen", "-"}, nil, []string{"-nat", "-listen"}},
	} {
		_, _, err := parseNode(tc.args, fakeEnv(tc.env), io.Discard)
		if err == nil || !errors.As(err, new(usageError)) {
			t.Errorf("%v %v: err %v, want a usage error", tc.args, tc.env, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v %v: %q lacks %q", tc.args, tc.env, err, w)
			}
		}
	}
	// Through run: exit status 2 and the flag named on stderr.
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"node", "-role", "king"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "-role") {
		t.Fatalf("run: exit %d, stderr %q", code, errb.String())
	}
}

// TestNodeHelp: every flag is listed with its default and its variable,
// on stdout.
func TestNodeHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"node", "-h"}, &out, &errb); code != 0 || errb.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	help := out.String()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	defineNodeFlags(fs)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		i := strings.Index(help, "  -"+f.Name+" ")
		if i < 0 {
			i = strings.Index(help, "  -"+f.Name+"\n")
		}
		if i < 0 {
			t.Errorf("help lacks -%s", f.Name)
			return
		}
		entry := help[i:]
		if j := strings.Index(entry[3:], "\n  -"); j >= 0 {
			entry = entry[:j+3]
		}
		if !strings.Contains(entry, "(default ") || !strings.Contains(entry, "env "+envName(f.Name)) {
			t.Errorf("-%s: no default or variable in %q", f.Name, entry)
		}
	})
	if n < 24 {
		t.Fatalf("only %d flags", n)
	}
	for _, want := range []string{`(default "127.0.0.1:26670"; env PEERWIRE_ADMIN)`, `(default 40; env PEERWIRE_MAX_INBOUND)`,
		`(default ""; env PEERWIRE_BOOTSTRAP)`, `(default false; env PEERWIRE_SEED)`} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %s", want)
		}
	}
}

// TestNodeBlockGossip: blocks spread chunked unless -block-gossip (or its
// variable) says flood, and only the blocks topic changes.
func TestNodeBlockGossip(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want p2p.Dissemination
	}{
		{nil, nil, p2p.Chunked},
		{[]string{"-block-gossip", "flood"}, nil, p2p.Flood},
		{nil, map[string]string{"PEERWIRE_BLOCK_GOSSIP": "flood"}, p2p.Flood},
		{[]string{"-block-gossip", "chunked"}, map[string]string{"PEERWIRE_BLOCK_GOSSIP": "flood"}, p2p.Chunked},
	} {
		_, cfg, err := parseNode(tc.args, fakeEnv(tc.env), io.Discard)
		if err != nil {
			t.Fatalf("%v %v: %v", tc.args, tc.env, err)
		}
		for _, tp := range cfg.Topics {
			want := p2p.Flood
			if tp.ID == topicBlocks {
				want = tc.want
			}
			if tp.Dissemination != want {
				t.Errorf("%v %v: topic %s spreads as %v, want %v", tc.args, tc.env, tp.Name, tp.Dissemination, want)
			}
		}
	}
}

func TestNodeNATModes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string // the Mapper's name, "" for none
	}{
		{[]string{"-nat", "extip:203.0.113.1"}, nil, "extip:203.0.113.1"},
		{nil, map[string]string{"PEERWIRE_NAT": "upnp"}, "upnp"},
		{[]string{"-nat", "pmp:192.168.1.1"}, map[string]string{"PEERWIRE_NAT": "upnp"}, "pmp:192.168.1.1"},
		{[]string{"-nat", "any"}, nil, "any"},
		{[]string{"-nat", "none"}, nil, ""},
	} {
		_, cfg, err := parseNode(tc.args, fakeEnv(tc.env), io.Discard)
		if err != nil {
			t.Errorf("%v %v: %v", tc.args, tc.env, err)
			continue
		}
		got := ""
		if cfg.NAT != nil {
			got = cfg.NAT.String()
			cfg.NAT.Close()
		}
		if got != tc.want {
			t.Errorf("%v %v: mapper %q, want %q", tc.args, tc.env, got, tc.want)
		}
	}
}
