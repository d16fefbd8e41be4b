package p2p

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDataDirFIFO: a named pipe in place of node.key or peerbook.json makes
// New fail at once with an error naming the file, instead of blocking for
// ever on opening it. The bound below only detects a hang.
func TestDataDirFIFO(t *testing.T) {
	for _, tc := range []struct {
		file          string
		givenIdentity bool
	}{
		{keyFileName, false},
		{bookFileName, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := quietConfig(t, 1500)
			cfg.DataDir = dir
			if !tc.givenIdentity {
				cfg.Identity = nil
			}
			type result struct {
				n   *Node
				err error
			}
			done := make(chan result, 1)
			go func() {
				n, err := New(cfg)
				done <- result{n, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(20 * time.Second):
				// Unblock the hung open (a writer's open lets it proceed)
				// so the goroutine ends, then fail.
				if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				r = <-done
				if r.n != nil {
					r.n.closeStores()
				}
				t.Fatalf("New blocked on the named pipe %s", tc.file)
			}
			if r.err == nil {
				r.n.closeStores()
				t.Fatalf("New accepted a named pipe as %s", tc.file)
			}
			if !strings.Contains(r.err.Error(), path) || !strings.Contains(r.err.Error(), "not a regular file") {
				t.Fatalf("error %q does not name %s as not a regular file", r.err, path)
			}
		})
	}
}
