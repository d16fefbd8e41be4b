package peerbook

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSaveStatus: a failed save is reported with its error, when the run
// of failures began and how many there were; a good save clears it.
func TestSaveStatus(t *testing.T) {
	clk := newClock()
	dir := filepath.Join(t.TempDir(), "book")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "peerbook.json")
	b, _ := openTestBook(t, path, Config{}, testDeps(clk))
	if st := b.SaveStatus(); st != (SaveStatus{}) {
		t.Fatalf("before any save: %+v", st)
	}
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	good := clk.Now()
	if st := b.SaveStatus(); !st.LastSaved.Equal(good) || st.LastError != nil || st.Failures != 0 {
		t.Fatalf("after a good save: %+v", st)
	}

	// The directory disappears: saves fail.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	failFrom := clk.Now()
	for i := 1; i <= 2; i++ {
		err := b.Save()
		if err == nil {
			t.Fatal("save into a removed directory succeeded")
		}
		st := b.SaveStatus()
		if st.LastError == nil || st.LastError.Error() != err.Error() || st.Failures != i ||
			!st.FailingSince.Equal(failFrom) || !st.LastSaved.Equal(good) {
			t.Fatalf("after failure %d: %+v", i, st)
		}
		clk.Advance(time.Minute)
	}

	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	if st := b.SaveStatus(); !st.LastSaved.Equal(clk.Now()) || st.LastError != nil || st.Failures != 0 || !st.FailingSince.IsZero() {
		t.Fatalf("after recovering: %+v", st)
	}
}
