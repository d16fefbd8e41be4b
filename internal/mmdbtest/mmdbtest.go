// Package mmdbtest builds MaxMind-format country databases for the tests
// of filter, p2p and the lab, shaped like GeoLite2-Country's. It is
// imported only from test code.
package mmdbtest

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// BuildEpoch is the build time every generated database records (Unix
// seconds): fixed, so databases of the same networks are the same bytes.
const BuildEpoch = 1_700_000_000

// Net is one network of a generated database: CIDR, the country where it
// is located (Country, an ISO code) and, optionally, the country where it
// is registered (Registered). Either country may be empty.
type Net struct {
	CIDR, Country, Registered string
}

// Countries returns one Net a CIDR, located in the country it maps to.
func Countries(m map[string]string) []Net {
	nets := make([]Net, 0, len(m))
	for cidr, cc := range m {
		nets = append(nets, Net{CIDR: cidr, Country: cc})
	}
	return nets
}

// Build returns a database of type dbType (e.g. "GeoLite2-Country")
// holding nets, whose records look like GeoLite2-Country's:
// {"country": {"iso_code": "DE", "names": {...}}, "registered_country": ...}.
// Reserved networks (127/8, 2001:db8::/32, 198.18.0.0/15) may be used.
func Build(tb testing.TB, dbType string, nets []Net) []byte {
	tb.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            dbType,
		Description:             map[string]string{"en": "peerwire test database"},
		Languages:               []string{"en"},
		IncludeReservedNetworks: true,
		RecordSize:              24,
		BuildEpoch:              BuildEpoch,
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range nets {
		_, ipnet, err := net.ParseCIDR(n.CIDR)
		if err != nil {
			tb.Fatal(err)
		}
		rec := mmdbtype.Map{}
		if n.Country != "" {
			rec["country"] = mmdbtype.Map{
				"iso_code": mmdbtype.String(n.Country),
				"names":    mmdbtype.Map{"en": mmdbtype.String("Country " + n.Country)},
			}
		}
		if n.Registered != "" {
			rec["registered_country"] = mmdbtype.Map{"iso_code": mmdbtype.String(n.Registered)}
		}
		if err := tree.Insert(ipnet, rec); err != nil {
			tb.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// Write writes a GeoLite2-Country database of nets into a temporary
// directory of the test and returns its path.
func Write(tb testing.TB, nets []Net) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "country.mmdb")
	if err := os.WriteFile(path, Build(tb, "GeoLite2-Country", nets), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}
