package main

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestParseLogLevels: the -log-level syntax, good and bad.
func TestParseLogLevels(t *testing.T) {
	for _, tc := range []struct {
		in   string
		def  slog.Level
		by   map[string]slog.Level
		fail string // substring of the error; "" for a good value
	}{
		{in: "info", def: slog.LevelInfo},
		{in: "debug", def: slog.LevelDebug},
		{in: "WARN", def: slog.LevelWarn},
		{in: "error", def: slog.LevelError},
		{in: "p2p=debug,info", def: slog.LevelInfo, by: map[string]slog.Level{"p2p": slog.LevelDebug}},
		{in: "p2p=debug", def: slog.LevelInfo, by: map[string]slog.Level{"p2p": slog.LevelDebug}},
		{in: "warn, book=debug , conn=error", def: slog.LevelWarn, by: map[string]slog.Level{"book": slog.LevelDebug, "conn": slog.LevelError}},
		// p2p logs the peer set and mDNS under their own components.
		{in: "peerset=debug,mdns=warn", def: slog.LevelInfo, by: map[string]slog.Level{"peerset": slog.LevelDebug, "mdns": slog.LevelWarn}},
		{in: "", fail: "entry 1 is empty"},
		{in: "info,", fail: "entry 2 is empty"},
		{in: "loud", fail: `level "loud": want debug, info, warn or error`},
		{in: "p2p=loud", fail: `entry 1: level "loud"`},
		{in: "p2pp=debug", fail: `unknown component "p2pp"; want one of node, p2p, conn, book, filter, nat, api`},
		{in: "info,warn", fail: "two levels for the other components"},
		{in: "p2p=debug,p2p=info", fail: "component p2p given twice"},
	} {
		l, err := parseLogLevels(tc.in)
		if tc.fail != "" {
			if err == nil || !strings.Contains(err.Error(), tc.fail) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.fail)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if l.def != tc.def || len(l.by) != len(tc.by) {
			t.Errorf("%q: %+v, want default %v and %v", tc.in, l, tc.def, tc.by)
		}
		for c, v := range tc.by {
			if l.by[c] != v {
				t.Errorf("%q: %s at %v, want %v", tc.in, c, l.by[c], v)
			}
		}
	}
}

// TestLogLevelErrorsNameOrigin: a bad -log-level names the flag, the
// variable or the config file's line it came from.
func TestLogLevelErrorsNameOrigin(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		env  map[string]string
		args []string
		want string // HOME replaced by the home
	}{
		{"flag", "", nil, []string{"-log-level", "p2p=loud"}, `-log-level: "p2p=loud": entry 1: level "loud"`},
		{"variable", "", map[string]string{"PEERWIRE_LOG_LEVEL": "bogus=debug"}, nil, `PEERWIRE_LOG_LEVEL (-log-level): "bogus=debug": entry 1: unknown component "bogus"`},
		{"file", "network = \"x\"\nlog_level = \"info,debug\"\n", nil, nil, `HOME/config.toml:2: log_level (-log-level): "info,debug": two levels`},
		{"no-peers-warn", "", nil, []string{"-no-peers-warn", "10ms"}, "-no-peers-warn: 10ms: want at least 1s"},
		{"no-peers-warn, file", "no_peers_warn = \"soon\"\n", nil, nil, "HOME/config.toml:1: no_peers_warn (-no-peers-warn)"},
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
			_, _, err := parseNode(tc.args, fakeEnv(env), io.Discard)
			if err == nil || !errors.As(err, new(usageError)) {
				t.Fatalf("err %v, want a usage error", err)
			}
			if w := strings.ReplaceAll(tc.want, "HOME", home); !strings.Contains(err.Error(), w) {
				t.Errorf("%q lacks %q", err, w)
			}
		})
	}
}

// TestLogLevelPrecedence: -log-level follows flag > variable > file >
// default like every setting, and the node gets NoPeersWarn.
func TestLogLevelPrecedence(t *testing.T) {
	home := writeConfig(t, "log_level = \"book=debug,warn\"\nno_peers_warn = \"2m\"\n")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string // component whose level is set, then the default
		comp slog.Level
		def  slog.Level
	}{
		{"file", nil, nil, "book", slog.LevelDebug, slog.LevelWarn},
		{"variable over file", map[string]string{"PEERWIRE_LOG_LEVEL": "nat=error,info"}, nil, "nat", slog.LevelError, slog.LevelInfo},
		{"flag over variable", map[string]string{"PEERWIRE_LOG_LEVEL": "nat=error,info"}, []string{"-log-level", "p2p=debug,error"}, "p2p", slog.LevelDebug, slog.LevelError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"PEERWIRE_HOME": home}
			for k, v := range tc.env {
				env[k] = v
			}
			o, cfg, err := parseNode(tc.args, fakeEnv(env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if len(o.levels.by) != 1 || o.levels.of(tc.want) != tc.comp || o.levels.def != tc.def {
				t.Fatalf("levels %+v, want %s at %v, others %v", o.levels, tc.want, tc.comp, tc.def)
			}
			if cfg.NoPeersWarn.String() != "2m0s" {
				t.Fatalf("NoPeersWarn %v, want the file's 2m", cfg.NoPeersWarn)
			}
		})
	}
}

// TestNoPeersWarnNever: a negative -no-peers-warn means never, as its
// help and the library's Config.NoPeersWarn say; under 1 s is refused.
func TestNoPeersWarnNever(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want time.Duration
		fail bool
	}{{"-1s", -time.Second, false}, {"-5m", -5 * time.Minute, false}, {"0", 0, false}, {"3s", 3 * time.Second, false}, {"500ms", 0, true}} {
		t.Run(tc.arg, func(t *testing.T) {
			_, cfg, err := parseNode([]string{"-no-peers-warn", tc.arg}, fakeEnv(map[string]string{"PEERWIRE_HOME": t.TempDir()}), io.Discard)
			if tc.fail {
				if err == nil || !strings.Contains(err.Error(), "-no-peers-warn: ") {
					t.Fatalf("err %v, want -no-peers-warn refused", err)
				}
				return
			}
			if err != nil || cfg.NoPeersWarn != tc.want {
				t.Fatalf("NoPeersWarn %v, err %v; want %v", cfg.NoPeersWarn, err, tc.want)
			}
		})
	}
}

// TestComponentLevels: each component logs at its own level, every line
// carries its component, and the default applies to components not named.
func TestComponentLevels(t *testing.T) {
	levels, err := parseLogLevels("p2p=debug,book=error,info")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	root := newLogger(&buf, "text", levels)
	p2pLog, book, conn := root.With("component", "p2p"), root.With("component", "book"), root.With("component", "conn")
	p2pLog.Debug("p2p debug")
	p2pLog.With("peer", "x").Debug("p2p debug, derived")
	book.Warn("book warn")
	book.Error("book error")
	conn.Debug("conn debug")
	conn.Info("conn info")
	out := buf.String()
	for _, want := range []string{
		"level=DEBUG msg=\"p2p debug\" component=p2p",
		"level=DEBUG msg=\"p2p debug, derived\" component=p2p peer=x",
		"level=ERROR msg=\"book error\" component=book",
		"level=INFO msg=\"conn info\" component=conn",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"book warn", "conn debug"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("output has %q, below its component's level:\n%s", unwanted, out)
		}
	}
}
