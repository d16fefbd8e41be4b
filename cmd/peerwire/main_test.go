package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/peerwire/peerwire/crypto"
)

// asMainEnv makes the test binary act as the peerwire command, so the
// process tests run real "peerwire node" processes without a go build.
const asMainEnv = "PEERWIRE_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(mainWithSignals(os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "node.key")
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"writes", []string{"-out", key, "-host", "10.1.2.3", "-port", "4000"}, 0, "@10.1.2.3:4000", ""},
		{"refuses overwrite", []string{"-out", key}, 1, "", "-force"},
		{"force", []string{"-out", key, "-force"}, 0, "peer ID:", ""},
		{"bad port", []string{"-out", key, "-port", "0"}, 2, "", "-port"},
		{"bad host", []string{"-out", key, "-host", "a b"}, 2, "", "-host"},
		{"stray arg", []string{"extra"}, 2, "", "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"keygen"}, tc.args...), &out, &errb)
			if code != tc.code || !strings.Contains(out.String(), tc.inStdout) || !strings.Contains(errb.String(), tc.inStderr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
		})
	}
	id, err := crypto.LoadKeyFile(key)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(key)
	if st.Mode().Perm() != 0o600 || id.ID().IsZero() {
		t.Fatalf("key file mode %v", st.Mode())
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"help"}, &out, &errb); code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	for _, c := range commands() {
		if !strings.Contains(out.String(), c.name) {
			t.Errorf("help lacks %s", c.name)
		}
	}
}

// TestREADMEListsCommands: every command and every admin API endpoint the
// binary serves is documented in the README.
func TestREADMEListsCommands(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, c := range commands() {
		if !regexp.MustCompile(`peerwire ` + c.name + `\b`).MatchString(readme) {
			t.Errorf("README does not mention \"peerwire %s\"", c.name)
		}
	}
	for _, s := range []string{"`POST /bans`", "`DELETE /bans/{target}`", `"prefix"`, `"ip"`, "BanIP", "IPBanAfter", "`-for`", "`-reason`"} {
		if !strings.Contains(readme, s) {
			t.Errorf("README does not document %s", s)
		}
	}
}
