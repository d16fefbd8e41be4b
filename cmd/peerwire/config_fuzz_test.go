package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadConfigFile feeds arbitrary bytes to the config file reader: it
// never panics, and what it accepts names node flags at real lines.
func FuzzReadConfigFile(f *testing.F) {
	f.Add(configTemplate("/home/x"))
	f.Add([]byte("network = \"a\"\nmax_inbound = 3\nbootstrap = [\"10.0.0.1:1\"]\n"))
	f.Add([]byte("[p2p]\nnetwork = \"x\"\n"))
	f.Add([]byte("'role' = \"full\"\n\"seed\" = true\n"))
	f.Add([]byte("network = \"\"\"\nrole = 1\n\"\"\"\n"))
	f.Add([]byte("unknown = 1\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "config.toml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		fs := flag.NewFlagSet("node", flag.ContinueOnError)
		defineNodeFlags(fs)
		vals, err := readConfigFile(path, fs, map[string]bool{"home": true, "config": true})
		if err != nil {
			return
		}
		for name, v := range vals {
			if fs.Lookup(name) == nil || name == "home" || name == "config" {
				t.Fatalf("accepted %q", name)
			}
			if v.line < 1 {
				t.Fatalf("%s at line %d", name, v.line)
			}
		}
	})
}
