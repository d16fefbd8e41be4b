package filter

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/mmdbtest"
)

// testNets map parts of 127.0.0.0/8 to countries, so loopback connections
// exercise country rules, plus documentation ranges and some IPv6.
var testNets = []mmdbtest.Net{
	{CIDR: "127.0.1.0/24", Country: "DE"},
	{CIDR: "127.0.2.0/24", Country: "US"},
	{CIDR: "127.0.3.0/24", Registered: "FR"}, // registered country only
	{CIDR: "192.0.2.0/24", Country: "NL"},
	{CIDR: "198.51.100.0/24", Country: "CN"},
	{CIDR: "2001:db8:1::/48", Country: "DE"},
	{CIDR: "2001:db8:2::/48", Country: "JP"},
}

// writeFileAt replaces path atomically (as geoipupdate does) and sets its
// modification time, so file-change detection does not depend on the file
// system's timestamp granularity.
func writeFileAt(tb testing.TB, path string, data []byte, mod time.Time) {
	tb.Helper()
	tmp := path + ".tmp"
	must(tb, os.WriteFile(tmp, data, 0o644))
	must(tb, os.Chtimes(tmp, mod, mod))
	must(tb, os.Rename(tmp, path))
}

// testDB writes the standard test database into a temporary directory and
// returns its path.
func testDB(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "country.mmdb")
	writeFileAt(tb, path, mmdbtest.Build(tb, "GeoLite2-Country", testNets), time.Unix(mmdbtest.BuildEpoch, 0))
	return path
}

// newTestFilter creates a Filter that is closed when the test ends.
func newTestFilter(tb testing.TB, cfg Config, deps ...Deps) *Filter {
	tb.Helper()
	var d Deps
	if len(deps) > 0 {
		d = deps[0]
	}
	f, err := New(cfg, d)
	must(tb, err)
	tb.Cleanup(func() { f.Close() })
	return f
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// must fails the test at once on a non-nil error.
func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// wantErr fails the test unless err is non-nil and its text contains every
// one of parts.
func wantErr(tb testing.TB, err error, parts ...string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			tb.Fatalf("error %q does not contain %q", err, p)
		}
	}
}
