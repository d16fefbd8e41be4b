package peerbook

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helperEnv names the book file for TestHelperSaver, which runs only as
// the child process of TestCrashSafety.
const helperEnv = "PEERBOOK_CRASH_HELPER_PATH"

// crashKills is how many times TestCrashSafety kills the saver.
const crashKills = 200

// TestHelperSaver is the child of TestCrashSafety: it opens the book, then
// adds entries and saves in a loop forever, printing "saved <counters>"
// after each Save returns. It exits only when killed.
func TestHelperSaver(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process for TestCrashSafety")
	}
	b, rep, err := Open(path, Config{}, Deps{})
	if err != nil || len(rep.Problems) > 0 {
		fmt.Printf("error open: %v %v\n", err, rep.Problems)
		os.Exit(2)
	}
	var next uint64
	for _, e := range b.Entries() {
		next = max(next, binary.BigEndian.Uint64(e.Addr.ID[:8]))
	}
	fmt.Println("ready")
	for {
		var added []string
		for range 3 {
			next++
			a := addrOf(idN(next), publicIP(uint32(next)<<16), 26656)
			if b.Add(a, Source{Kind: SourceInbound}) == nil {
				added = append(added, strconv.FormatUint(next, 10))
			}
		}
		if err := b.Save(); err != nil {
			fmt.Printf("error save: %v\n", err)
			os.Exit(3)
		}
		fmt.Printf("saved %s\n", strings.Join(added, ","))
	}
}

// TestCrashSafety kills a process that saves the book in a loop with
// SIGKILL at random moments, crashKills times. After every kill the file
// must load without problems and hold every entry the child reported saved.
// (SIGKILL tests the write protocol against process death; power loss also
// depends on the file system honouring fsync.)
func TestCrashSafety(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		t.Skip("in the helper")
	}
	kills := crashKills
	if testing.Short() {
		kills = 20
	}
	path := filepath.Join(t.TempDir(), "peerbook.json")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 7))
	confirmed := map[uint64]bool{}
	saves := 0
	start := time.Now()
	for i := range kills {
		n, err := runAndKill(path, time.Duration(r.IntN(20000))*time.Microsecond, confirmed)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		saves += n
		b, rep, err := Open(path, Config{}, Deps{})
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if len(rep.Problems) > 0 || (len(confirmed) > 0 && rep.Origin != OriginFile) {
			t.Fatalf("run %d: %+v %v", i, rep, rep.Problems)
		}
		for c := range confirmed {
			if _, ok := b.Get(idN(c)); !ok {
				t.Fatalf("run %d: entry %d was reported saved and is gone", i, c)
			}
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d kills, %d completed saves, %d entries confirmed, %v", kills, saves, len(confirmed), time.Since(start).Round(time.Millisecond))
}

// runAndKill starts the helper, kills it delay after it is ready, and adds
// to confirmed what it reported saved before dying. It returns the number
// of completed saves.
func runAndKill(path string, delay time.Duration, confirmed map[uint64]bool) (int, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSaver$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	saves := 0
	var problem error
	handle := func(line string) {
		switch {
		case line == "ready":
		case strings.HasPrefix(line, "saved"):
			saves++
			for _, f := range strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "saved")), ",") {
				if f == "" {
					continue
				}
				c, err := strconv.ParseUint(f, 10, 64)
				if err != nil {
					problem = fmt.Errorf("bad line %q", line)
				}
				confirmed[c] = true
			}
		case strings.HasPrefix(line, "error"):
			problem = errors.New(line)
		}
	}
	// Wait until the child has opened the book, then let it save for delay.
	ready := false
	for line := range lines {
		handle(line)
		if line == "ready" {
			ready = true
			break
		}
	}
	if ready {
		timer := time.NewTimer(delay)
	loop:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					break loop
				}
				handle(line)
			case <-timer.C:
				break loop
			}
		}
		timer.Stop()
	}
	_ = cmd.Process.Kill() // SIGKILL
	for line := range lines {
		handle(line) // everything printed before the kill
	}
	_ = cmd.Wait()
	if !ready && problem == nil {
		problem = errors.New("helper exited before it was ready")
	}
	return saves, problem
}
