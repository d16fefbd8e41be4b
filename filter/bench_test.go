package filter

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/mmdbtest"
)

// benchNets is a database of 4096 IPv4 /24s and 1024 IPv6 /48s spread over
// a few dozen countries: small next to GeoLite2-Country, but the lookup cost
// grows with tree depth, not size, and Check is served from the cache.
func benchNets() []mmdbtest.Net {
	countries := []string{"DE", "US", "FR", "NL", "JP", "CN", "BR", "IN", "GB", "CA", "AU", "SE", "PL", "RU", "KR", "SG"}
	var nets []mmdbtest.Net
	for i := range 4096 {
		nets = append(nets, mmdbtest.Net{CIDR: fmt.Sprintf("%d.%d.%d.0/24", 11+i/256, i%256, i*7%256), Country: countries[i%len(countries)]})
	}
	for i := range 1024 {
		nets = append(nets, mmdbtest.Net{CIDR: fmt.Sprintf("2a%02x:%x::/48", i%256, i), Country: countries[i%len(countries)]})
	}
	return nets
}

func benchFilter(b *testing.B, cfg Config) *Filter {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.mmdb")
	writeFileAt(b, path, mmdbtest.Build(b, "GeoLite2-Country", benchNets()), time.Unix(1700000000, 0))
	cfg.CountryDB = path
	f, err := New(cfg, Deps{})
	must(b, err)
	b.Cleanup(func() { f.Close() })
	return f
}

// BenchmarkCheck measures one Check with a country database loaded, over a
// working set of 256 addresses that fits the result cache.
func BenchmarkCheck(b *testing.B) {
	addrs := make([]netip.Addr, 256)
	for i := range addrs {
		if i%4 == 3 {
			addrs[i] = netip.AddrFrom16([16]byte{0x2a, byte(i), 0, byte(i), 15: 1})
		} else {
			addrs[i] = netip.AddrFrom4([4]byte{11 + byte(i%16), byte(i), byte(i * 7), 1})
		}
	}
	rules := Config{
		DenyCountries: []string{"CN", "RU"}, AllowCountries: []string{"DE", "US", "FR", "NL", "JP", "CN", "BR", "GB"},
		DenyCIDRs: []string{"10.0.0.0/8", "192.168.0.0/16", "fc00::/7"},
		// Never throttle or cap: measure the full path every time.
		AttemptInterval: time.Nanosecond, AttemptBurst: MaxAttemptBurst, MaxPerIP: MaxCap, MaxPerSubnet: MaxCap,
	}
	for _, dir := range []Direction{PEX, Outbound, Inbound} {
		b.Run(dir.String(), func(b *testing.B) {
			f := benchFilter(b, rules)
			for _, a := range addrs { // warm the cache and the throttle table
				f.Check(a, dir)
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				f.Check(addrs[i&255], dir)
				i++
			}
		})
	}
	b.Run("outbound-parallel", func(b *testing.B) {
		f := benchFilter(b, rules)
		for _, a := range addrs {
			f.Check(a, Outbound)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				f.Check(addrs[i&255], Outbound)
				i++
			}
		})
	})
	b.Run("uncached-lookup", func(b *testing.B) {
		// The database lookup Check falls back to on a cache miss.
		f := benchFilter(b, rules)
		db := f.geo.Load()
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			db.lookup(addrs[i&255])
			i++
		}
	})
}
