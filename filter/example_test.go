package filter_test

import (
	"fmt"
	"net/netip"

	"github.com/peerwire/peerwire/filter"
)

func Example() {
	f, err := filter.New(filter.Config{
		DenyCIDRs: filter.SplitList("192.0.2.0/24, 2001:db8:bad::/48"),
		MaxPerIP:  2,
		// CountryDB: "/var/lib/GeoIP/GeoLite2-Country.mmdb",
		// DenyCountries: filter.SplitList("xx,yy"),
	}, filter.Deps{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()

	for _, s := range []string{"192.0.2.10", "::ffff:192.0.2.10", "198.51.100.1", "2001:db8:bad::1"} {
		fmt.Println(s, f.Check(netip.MustParseAddr(s), filter.Inbound))
	}
	// Output:
	// 192.0.2.10 cidr-denied
	// ::ffff:192.0.2.10 cidr-denied
	// 198.51.100.1 allowed
	// 2001:db8:bad::1 cidr-denied
}

func ExampleNew_badConfig() {
	_, err := filter.New(filter.Config{DenyCIDRs: []string{"10.0.0.0/8", "::1", "10.0.0.0/33"}}, filter.Deps{})
	fmt.Println(err)
	// Output:
	// filter: DenyCIDRs[2] "10.0.0.0/33": prefix length out of range
}
