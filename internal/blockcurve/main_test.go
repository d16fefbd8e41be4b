package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		modes    []string
		points   []int
		err      string
	}{
		{"two modes", "chunked 0.1 0.5\nchunked 0.2 1\n\nflood 0.3 1\n", []string{"chunked", "flood"}, []int{2, 1}, ""},
		{"empty", "", nil, nil, "no curve"},
		{"two fields", "chunked 0.1\n", nil, nil, "line 1: 2 fields"},
		{"not a number", "chunked x 1\n", nil, nil, "line 1"},
		{"negative time", "chunked -1 1\n", nil, nil, "out of range"},
		{"share zero", "chunked 1 0\n", nil, nil, "out of range"},
		{"share above one", "chunked 1 1.5\n", nil, nil, "out of range"},
		{"NaN", "chunked NaN 1\n", nil, nil, "out of range"},
		{"back in time", "chunked 2 0.5\nchunked 1 1\n", nil, nil, "line 2: chunked goes back"},
		{"five modes", "a 1 1\nb 1 1\nc 1 1\nd 1 1\ne 1 1\n", nil, nil, "more than 4 modes"},
		{"line too long", "a 1 1\n" + strings.Repeat("x", 70000) + "\n", nil, nil, "line 2: bufio.Scanner: token too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.modes) {
				t.Fatalf("%d series, want %d", len(got), len(tc.modes))
			}
			for i, s := range got {
				if s.Name != tc.modes[i] || len(s.X) != tc.points[i] || len(s.Y) != tc.points[i] {
					t.Fatalf("series %d: %s with %d points, want %s with %d", i, s.Name, len(s.X), tc.modes[i], tc.points[i])
				}
			}
		})
	}
}

// TestRun writes the chart and names the flag of a missing input.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "curve.txt"), filepath.Join(dir, "curve.svg")
	if err := run(in, out, ""); err == nil || !strings.HasPrefix(err.Error(), "-in") {
		t.Fatalf("missing input: %v", err)
	}
	if err := os.WriteFile(in, []byte("chunked 0.25 0.5\nchunked 0.5 1\nflood 1.5 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(in, out, "a test run"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-name="chunked" data-points="0.25,0.5 0.5,1"`, `data-name="flood" data-points="1.5,1"`, "a test run"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"chunked 0.1 0.5\nflood 0.2 1\n", "", "a b c\n", "x 1e308 1\n", "x 1 1\nx 0.5 1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		series, err := parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, s := range series {
			for i := range s.X {
				if s.X[i] < 0 || s.Y[i] <= 0 || s.Y[i] > 1 || (i > 0 && (s.X[i] < s.X[i-1] || s.Y[i] < s.Y[i-1])) {
					t.Fatalf("accepted an out-of-order or out-of-range point: %+v", s)
				}
			}
		}
	})
}
