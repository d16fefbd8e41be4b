package filter

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// geoNet is one network of a generated country database: the country where
// it is located and, optionally, the country where it is registered.
type geoNet struct {
	cidr, country, registered string
}

// testNets map parts of 127.0.0.0/8 to countries, so loopback connections
// exercise country rules, plus documentation ranges and some IPv6.
var testNets = []geoNet{
	{cidr: "127.0.1.0/24", country: "DE"},
	{cidr: "127.0.2.0/24", country: "US"},
	{cidr: "127.0.3.0/24", registered: "FR"}, // registered country only
	{cidr: "192.0.2.0/24", country: "NL"},
	{cidr: "198.51.100.0/24", country: "CN"},
	{cidr: "2001:db8:1::/48", country: "DE"},
	{cidr: "2001:db8:2::/48", country: "JP"},
}

// buildCountryDB returns a MaxMind-format database of type dbType whose
// records look like GeoLite2-Country's: {"country": {"iso_code": "DE"}}.
func buildCountryDB(tb testing.TB, dbType string, nets []geoNet) []byte {
	tb.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            dbType,
		Description:             map[string]string{"en": "peerwire filter test database"},
		Languages:               []string{"en"},
		IncludeReservedNetworks: true, // 127/8 and 2001:db8::/32 are reserved
		RecordSize:              24,
		BuildEpoch:              1700000000,
	})
	must(tb, err)
	for _, n := range nets {
		_, ipnet, err := net.ParseCIDR(n.cidr)
		must(tb, err)
		rec := mmdbtype.Map{}
		if n.country != "" {
			rec["country"] = mmdbtype.Map{
				"iso_code": mmdbtype.String(n.country),
				"names":    mmdbtype.Map{"en": mmdbtype.String("Country " + n.country)},
			}
		}
		if n.registered != "" {
			rec["registered_country"] = mmdbtype.Map{"iso_code": mmdbtype.String(n.registered)}
		}
		must(tb, tree.Insert(ipnet, rec))
	}
	var buf bytes.Buffer
	_, err = tree.WriteTo(&buf)
	must(tb, err)
	return buf.Bytes()
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
	writeFileAt(tb, path, buildCountryDB(tb, "GeoLite2-Country", testNets), time.Unix(1700000000, 0))
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
