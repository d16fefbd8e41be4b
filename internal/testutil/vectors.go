package testutil

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// CheckVectors checks test vectors an implementation computes (got, name
// to hex value) against the vector file at path, and checks that the spec
// at specPath (docs/PROTOCOL.md) quotes every value, white space ignored,
// so neither the file nor the spec can drift from the code. With update
// set it first rewrites the file from got (the packages' -update-vectors
// flag).
func CheckVectors(t testing.TB, got map[string]string, path, specPath string, update bool) {
	t.Helper()
	if update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]string
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("vector file has %d values, implementation computes %d", len(want), len(got))
	}
	spec, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	specName := strings.TrimLeft(filepath.ToSlash(specPath), "./")
	specText := strings.Join(strings.Fields(string(spec)), "")
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s:\n got %s\nwant %s", name, got[name], w)
		}
		if !strings.Contains(specText, w) {
			t.Errorf("%s does not quote %s", specName, name)
		}
	}
}
