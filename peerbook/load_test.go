package peerbook

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func openTestBook(t testing.TB, path string, cfg Config, deps Deps) (*Book, *LoadReport) {
	t.Helper()
	b, rep, err := Open(path, cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return b, rep
}

func TestOpenRemovesTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "book.json")
	stale := path + tempInfix + "12345"
	other := filepath.Join(dir, "other.json.tmp-1")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := openTestBook(t, path, Config{}, testDeps(newClock()))
	defer b.Close()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("stale temp file kept")
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal("someone else's file removed")
	}
}

// goodFile returns the bytes of a saved book with two entries.
func goodFile(t testing.TB) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "good.json")
	b, _ := openTestBook(t, path, Config{}, testDeps(newClock()))
	_ = b.Add(addrOf(idN(1), "11.1.1.1", 1), Source{Kind: SourceManual})
	_ = b.Add(addrOf(idN(2), "12.1.1.1", 1), Source{Kind: SourceManual})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestCorruptFiles: each unusable file is moved aside with its bytes intact,
// reported, and the book starts from the backup or empty.
func TestCorruptFiles(t *testing.T) {
	good := goodFile(t)
	tests := []struct {
		name    string
		data    []byte
		wantErr error
	}{
		{"empty", nil, ErrCorruptFile},
		{"whitespace", []byte(" \n"), ErrCorruptFile},
		{"truncated", good[:len(good)/2], ErrCorruptFile},
		{"truncated at end", good[:len(good)-3], ErrCorruptFile},
		{"one byte", good[:1], ErrCorruptFile},
		{"garbage", []byte("\x00\xff\x13 not json"), ErrCorruptFile},
		{"array", []byte("[]"), ErrCorruptFile},
		{"trailing data", append(append([]byte(nil), good...), "{}"...), ErrCorruptFile},
		{"wrong version", bytes.Replace(good, []byte(`"version":1`), []byte(`"version":2`), 1), ErrFileVersion},
		{"version zero", bytes.Replace(good, []byte(`"version":1`), []byte(`"version":0`), 1), ErrFileVersion},
		{"no version", bytes.Replace(good, []byte(`"version":1,`), nil, 1), ErrCorruptFile},
		{"no secret", []byte(`{"version":1,"entries":[]}`), ErrCorruptFile},
		{"short secret", []byte(`{"version":1,"secret":"abcd","entries":[]}`), ErrCorruptFile},
		{"entries not array", []byte(`{"version":1,"secret":"` + strings.Repeat("00", 32) + `","entries":{}}`), ErrCorruptFile},
		{"entry wrong type", []byte(`{"version":1,"secret":"` + strings.Repeat("00", 32) + `","entries":[{"failures":"x"}]}`), ErrCorruptFile},
	}
	for _, tt := range tests {
		for _, backup := range []string{"none", "good", "corrupt"} {
			t.Run(tt.name+"/backup="+backup, func(t *testing.T) {
				clk := newClock()
				dir := t.TempDir()
				path := filepath.Join(dir, "peerbook.json")
				if err := os.WriteFile(path, tt.data, 0o600); err != nil {
					t.Fatal(err)
				}
				switch backup {
				case "good":
					_ = os.WriteFile(path+backupSuffix, good, 0o600)
				case "corrupt":
					_ = os.WriteFile(path+backupSuffix, []byte("{"), 0o600)
				}
				b, rep := openTestBook(t, path, Config{}, testDeps(clk))
				defer b.Close()
				wantProblems, wantOrigin, wantLen := 1, OriginEmpty, 0
				switch backup {
				case "good":
					wantOrigin, wantLen = OriginBackup, 2
				case "corrupt":
					wantProblems = 2
				}
				if rep.Origin != wantOrigin || len(rep.Problems) != wantProblems || b.Len() != wantLen {
					t.Fatalf("report %+v, %d entries", rep, b.Len())
				}
				p := rep.Problems[0]
				if !errors.Is(p, tt.wantErr) || p.Path != path {
					t.Fatalf("problem %v, want %v", p, tt.wantErr)
				}
				wantName := path + ".corrupt-20250301T120000.000000000Z"
				if p.MovedTo != wantName || strings.Contains(filepath.Base(p.MovedTo), ":") {
					t.Fatalf("moved to %q, want %q", p.MovedTo, wantName)
				}
				kept, err := os.ReadFile(p.MovedTo)
				if err != nil || !bytes.Equal(kept, tt.data) {
					t.Fatalf("original not kept aside: %v", err)
				}
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Fatal("corrupt file still in place")
				}
				if backup == "corrupt" {
					if q := rep.Problems[1]; q.Path != path+backupSuffix || q.MovedTo != path+backupSuffix+".corrupt-20250301T120000.000000000Z" {
						t.Fatalf("backup problem %+v", q)
					}
				}
				// The book works and saves over the moved file's old name.
				if err := b.Add(addrOf(idN(9), "13.1.1.1", 1), Source{Kind: SourceManual}); err != nil {
					t.Fatal(err)
				}
				if err := b.Save(); err != nil {
					t.Fatal(err)
				}
				if backup == "good" {
					if data, _ := os.ReadFile(path + backupSuffix); !bytes.Equal(data, good) {
						t.Fatal("the good backup was replaced")
					}
				}
			})
		}
	}
}

func TestCorruptNameCollision(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	path := filepath.Join(dir, "peerbook.json")
	for i := range 3 {
		_ = os.WriteFile(path, []byte("bad"), 0o600)
		b, rep := openTestBook(t, path, Config{}, testDeps(clk)) // same clock reading each time
		_ = b.Close()
		want := path + ".corrupt-20250301T120000.000000000Z"
		if i > 0 {
			want += "-" + string(rune('0'+i))
		}
		if rep.Problems[0].MovedTo != want {
			t.Fatalf("moved to %q, want %q", rep.Problems[0].MovedTo, want)
		}
		_ = os.Remove(path)
	}
}

func TestOversizedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "peerbook.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil { // sparse: no real disk use
		t.Fatal(err)
	}
	f.Close()
	b, rep := openTestBook(t, path, Config{}, testDeps(newClock()))
	defer b.Close()
	if len(rep.Problems) != 1 || !errors.Is(rep.Problems[0], ErrCorruptFile) || rep.Origin != OriginEmpty {
		t.Fatalf("%+v", rep)
	}
}

func TestMissingFileIsEmpty(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "peerbook.json")
	// A lone backup is not used: removing the book is how an operator resets it.
	_ = os.WriteFile(path+backupSuffix, goodFile(t), 0o600)
	b, rep := openTestBook(t, path, Config{}, testDeps(newClock()))
	defer b.Close()
	if rep.Origin != OriginEmpty || len(rep.Problems) != 0 || b.Len() != 0 {
		t.Fatalf("%+v", rep)
	}
}

func TestUnreadableFileIsAnError(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("root reads any file")
	}
	path := filepath.Join(t.TempDir(), "peerbook.json")
	_ = os.WriteFile(path, goodFile(t), 0o000)
	if _, _, err := Open(path, Config{}, testDeps(newClock())); err == nil {
		t.Fatal("unreadable file opened as empty; the next save would destroy it")
	}
}

// TestLoadBounds: entries beyond the configured capacity, invalid entries
// and expired bans are dropped one by one, not the file.
func TestLoadBounds(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "peerbook.json")
	b, _ := openTestBook(t, path, Config{}, testDeps(clk))
	for i := range 300 {
		_ = b.Add(addrOf(idN(uint64(i+1)), publicIP(uint32(i)<<16), 1), Source{Kind: SourceInbound})
	}
	n := b.Len()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	small := Config{MaxEntries: 100}
	b2, rep := openTestBook(t, path, small, testDeps(clk))
	defer b2.Close()
	if rep.Entries != 100 || rep.Dropped != n-100 || b2.Len() != 100 {
		t.Fatalf("report %+v, len %d", rep, b2.Len())
	}
	checkInvariants(t, b2)

	secret := strings.Repeat("ab", 32)
	data := `{"version":1,"secret":"` + secret + `","unknown":{"x":[1,2]},"entries":[
{"addr":"` + idN(1).String() + `@11.1.1.1:1","failures":-5,"next_attempt":"2999-01-01T00:00:00Z"},
{"addr":"` + idN(1).String() + `@11.1.1.2:1"},
{"addr":"11.1.1.3:1"},
{"addr":"` + idN(2).String() + `@11.1.1.4:0"},
{"addr":"` + idN(3).String() + `@11.1.1.5:1","source_from":"zz"},
{"addr":"` + idN(4).String() + `@11.1.1.6:1","failures":99},
{"addr":"` + idN(5).String() + `@11.1.1.7:1","meta":{"chain_id":"` + strings.Repeat("c", 500) + `"}}
],"bans":[
{"id":"` + idN(9).String() + `","until":"2999-01-01T00:00:00Z"},
{"id":"` + idN(10).String() + `","until":"2000-01-01T00:00:00Z"},
{"ip":"nonsense","until":"2999-01-01T00:00:00Z"},
{"id":"` + idN(11).String() + `","ip":"1.2.3.4","until":"2999-01-01T00:00:00Z"}
]}`
	path2 := filepath.Join(t.TempDir(), "peerbook.json")
	_ = os.WriteFile(path2, []byte(data), 0o600)
	b3, rep := openTestBook(t, path2, Config{}, testDeps(clk))
	defer b3.Close()
	if rep.Origin != OriginFile || rep.Entries != 2 || rep.Bans != 1 || rep.Dropped != 8 {
		t.Fatalf("report %+v", rep)
	}
	e, _ := b3.Get(idN(1))
	if e.Failures != 0 || e.NextAttempt.After(clk.Now().Add(DefaultBackoffCap)) {
		t.Fatalf("counts not bounded: %+v", e)
	}
	if e, _ := b3.Get(idN(5)); len(e.Meta.ChainID) != maxMetaString {
		t.Fatalf("meta not bounded: %d", len(e.Meta.ChainID))
	}
	if ban := b3.Bans(); len(ban) != 1 || ban[0].Until.After(clk.Now().Add(MaxBanDuration)) {
		t.Fatalf("ban not bounded: %+v", ban)
	}
	checkInvariants(t, b3)
}

// TestOpenFIFO: a named pipe as the book file (or its backup) is treated as
// a corrupt file, moved aside, and the book starts empty; opening it must
// not wait for a writer. The bound only detects a hang.
func TestOpenFIFO(t *testing.T) {
	for _, which := range []string{"file", "backup"} {
		t.Run(which, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "peerbook.json")
			fifo := path
			if which == "backup" {
				fifo = path + backupSuffix
				if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			type result struct {
				b   *Book
				rep *LoadReport
				err error
			}
			done := make(chan result, 1)
			go func() {
				b, rep, err := Open(path, Config{}, testDeps(newClock()))
				done <- result{b, rep, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(20 * time.Second):
				if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close() // let the blocked open return, so the goroutine ends
				}
				if r = <-done; r.b != nil {
					r.b.Close()
				}
				t.Fatal("Open blocked on a named pipe")
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			defer r.b.Close()
			if r.rep.Origin != OriginEmpty || len(r.rep.Problems) == 0 {
				t.Fatalf("report %+v", r.rep)
			}
		})
	}
}
