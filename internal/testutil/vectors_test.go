package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
	panic(r)
}

func (r *recorder) Fatal(args ...any) {
	r.errs = append(r.errs, fmt.Sprint(args...))
	panic(r)
}

// check runs CheckVectors on r and returns what it reported.
func (r *recorder) check(got map[string]string, path, spec string, update bool) (errs []string) {
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
		errs = r.errs
	}()
	CheckVectors(r, got, path, spec, update)
	return nil
}

// TestCheckVectors: a vector that changed, one the spec does not quote
// and a file of another size are each reported; update rewrites the file.
func TestCheckVectors(t *testing.T) {
	dir := t.TempDir()
	vectors := filepath.Join(dir, "testdata", "v.json")
	spec := filepath.Join(dir, "SPEC.md")
	if err := os.WriteFile(spec, []byte("a = 00 11\nb = 2233\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{"a": "0011", "b": "2233"}
	if errs := (&recorder{TB: t}).check(got, vectors, spec, true); len(errs) != 0 {
		t.Fatalf("update, then a matching check: %v", errs)
	}
	for _, tc := range []struct {
		name string
		got  map[string]string
		spec string
		want string
	}{
		{"changed value", map[string]string{"a": "0011", "b": "2234"}, "a = 00 11\nb = 2233\n", "b:"},
		{"unquoted value", got, "a = 0011\n", "does not quote b"},
		{"missing value", map[string]string{"a": "0011"}, "a = 0011\n", "vector file has 2 values, implementation computes 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(spec, []byte(tc.spec), 0o644); err != nil {
				t.Fatal(err)
			}
			errs := (&recorder{TB: t}).check(tc.got, vectors, spec, false)
			if len(errs) != 1 || !strings.Contains(errs[0], tc.want) {
				t.Fatalf("reported %q, want one report containing %q", errs, tc.want)
			}
		})
	}
}
