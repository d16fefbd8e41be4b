package p2p

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peerwire/peerwire/conn/mux"
)

// TestNewRefusesDuplicateTopics: New, not Start, refuses two topics with
// one ID, naming Config.Topics and both entries.
func TestNewRefusesDuplicateTopics(t *testing.T) {
	cfg := quietConfig(t, 1400)
	cfg.Topics = append(cfg.Topics, TopicConfig{TopicConfig: mux.TopicConfig{ID: topicVotes, Name: "again"}})
	n, err := New(cfg)
	if err == nil {
		n.Stop(t.Context())
		t.Fatal("New accepted two topics with ID 1")
	}
	for _, want := range []string{"Config.Topics[3].ID", "Topics[0]", "declared twice"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %q", err, want)
		}
	}
}

// TestNewCreatesDataDir: New creates a missing DataDir (and its parents)
// with mode 0700 and writes the key there.
func TestNewCreatesDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home", "data")
	cfg := quietConfig(t, 1401)
	cfg.Identity = nil
	cfg.DataDir = dir
	n, err := New(cfg)
	if err != nil {
		t.Fatalf("New with a missing DataDir: %v", err)
	}
	n.Stop(t.Context())
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !st.IsDir() || st.Mode().Perm() != 0o700 {
		t.Fatalf("DataDir mode %v, want a 0700 directory", st.Mode())
	}
	if _, err := os.Stat(filepath.Join(dir, keyFileName)); errors.Is(err, fs.ErrNotExist) {
		t.Fatal("no key file in the created DataDir")
	}
}
