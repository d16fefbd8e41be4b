package p2p

import (
	"os"
	"strings"
	"testing"
)

// TestREADMESnippet: the README's "Use it from Go" code is runNode in
// example_test.go, character for character, so it compiles with the
// package's tests (and go vet checks it) and cannot drift from the API.
func TestREADMESnippet(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	got := between(t, string(readme), "## Use it from Go", "```go\n", "```\n")
	want := between(t, string(src), "", "// README snippet start\n", "\n// README snippet end")
	if strings.TrimSpace(got) != strings.TrimSpace(want) {
		t.Fatalf("README.md's Go snippet differs from runNode in p2p/example_test.go; copy runNode (between the markers) into the README.\nREADME:\n%s\nexample_test.go:\n%s", got, want)
	}
}

// between returns the text of s after anchor, from the first start to the
// next end.
func between(t *testing.T, s, anchor, start, end string) string {
	t.Helper()
	i := strings.Index(s, anchor)
	if i < 0 {
		t.Fatalf("%q not found", anchor)
	}
	s = s[i:]
	i = strings.Index(s, start)
	if i < 0 {
		t.Fatalf("%q not found after %q", start, anchor)
	}
	s = s[i+len(start):]
	j := strings.Index(s, end)
	if j < 0 {
		t.Fatalf("%q not found after %q", end, start)
	}
	return s[:j]
}
