package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/discovery/mdns"
)

// TestNodeMDNS: -mdns is off by default and reaches p2p.Config.MDNS from
// a flag, the environment or the config file, with the usual precedence;
// a bad interval names its flag and origin.
func TestNodeMDNS(t *testing.T) {
	_, cfg, err := parseNode(nil, fakeEnv(nil), io.Discard)
	if err != nil || cfg.MDNS.Enabled || cfg.MDNS.Interval != mdns.DefaultInterval || cfg.MDNS.Interface != "" {
		t.Fatalf("default: %v %+v", err, cfg.MDNS)
	}
	_, cfg, err = parseNode([]string{"-mdns", "-mdns-interval", "2s", "-mdns-interface", "eth1"}, fakeEnv(nil), io.Discard)
	if err != nil || !cfg.MDNS.Enabled || cfg.MDNS.Interval != 2*time.Second || cfg.MDNS.Interface != "eth1" {
		t.Fatalf("flags: %v %+v", err, cfg.MDNS)
	}
	home := writeConfig(t, "mdns = true\nmdns_interval = \"5s\"\nmdns_interface = \"eth0\"\n")
	env := map[string]string{"PEERWIRE_HOME": home, "PEERWIRE_MDNS_INTERVAL": "3s"}
	o, cfg, err := parseNode(nil, fakeEnv(env), io.Discard)
	if err != nil || !cfg.MDNS.Enabled || cfg.MDNS.Interval != 3*time.Second || cfg.MDNS.Interface != "eth0" {
		t.Fatalf("file and env: %v %+v", err, cfg.MDNS)
	}
	if o.src["mdns"] != home+"/config.toml:1: mdns" || o.src["mdns-interval"] != "PEERWIRE_MDNS_INTERVAL" {
		t.Fatalf("origins %q %q", o.src["mdns"], o.src["mdns-interval"])
	}
	_, cfg, err = parseNode([]string{"-mdns=false"}, fakeEnv(env), io.Discard)
	if err != nil || cfg.MDNS.Enabled {
		t.Fatalf("flag over file: %v %+v", err, cfg.MDNS)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{[]string{"-mdns-interval", "10ms"}, nil, []string{"-mdns-interval", "10ms"}},
		{[]string{"-mdns-interval", "2h"}, nil, []string{"-mdns-interval"}},
		{nil, map[string]string{"PEERWIRE_MDNS": "perhaps"}, []string{"-mdns", "PEERWIRE_MDNS"}},
		{nil, map[string]string{"PEERWIRE_MDNS_INTERVAL": "100ms"}, []string{"-mdns-interval", "PEERWIRE_MDNS_INTERVAL"}},
	} {
		_, _, err := parseNode(tc.args, fakeEnv(tc.env), io.Discard)
		if err == nil || !errors.As(err, new(usageError)) {
			t.Errorf("%v %v: %v, want a usage error", tc.args, tc.env, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v %v: %q lacks %q", tc.args, tc.env, err, w)
			}
		}
	}
}
