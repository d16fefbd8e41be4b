package filter

import (
	"net/netip"
	"testing"
)

func TestCIDRRules(t *testing.T) {
	cfg := Config{
		AllowCIDRs: []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::ffff:198.51.100.0/120"},
		DenyCIDRs:  []string{"10.1.0.0/16", " 172.16.0.0/12", "2001:db8:dead::/48", "2001:db8:1::1"},
	}
	f := newTestFilter(t, cfg)
	tests := []struct {
		addr string
		want Reason
	}{
		{"10.0.0.1", ReasonAllowed},
		{"10.255.255.255", ReasonAllowed},
		{"10.1.2.3", ReasonCIDRDenied},
		{"::ffff:10.1.2.3", ReasonCIDRDenied}, // IPv4-mapped is the IPv4 address
		{"::ffff:10.9.9.9", ReasonAllowed},
		{"172.16.5.5", ReasonCIDRDenied}, // denied even though not allowed either
		{"11.0.0.1", ReasonCIDRNotAllowed},
		{"192.0.2.7", ReasonAllowed},
		{"192.0.2.8", ReasonCIDRNotAllowed},
		{"198.51.100.9", ReasonAllowed}, // from the mapped allow prefix
		{"198.51.101.9", ReasonCIDRNotAllowed},
		{"2001:db8::1", ReasonAllowed},
		{"2001:db8:dead:beef::1", ReasonCIDRDenied},
		{"2001:db8:1::1", ReasonCIDRDenied},
		{"2001:db8:1::2", ReasonAllowed},
		{"fe80::1%eth0", ReasonCIDRNotAllowed}, // zone ignored
		{"2001:db8::1%eth0", ReasonAllowed},
		{"2001:db9::1", ReasonCIDRNotAllowed},
		{"::1", ReasonCIDRNotAllowed},
	}
	for _, tt := range tests {
		for _, dir := range []Direction{Inbound, Outbound, PEX} {
			if got := f.Check(addr(tt.addr), dir); got.Reason != tt.want || got.Country != "" {
				t.Errorf("Check(%s, %v) = %v, want %v", tt.addr, dir, got, tt.want)
			}
		}
		if got := f.CheckRules(addr(tt.addr)); got.Reason != tt.want {
			t.Errorf("CheckRules(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if got := f.Check(netip.Addr{}, PEX); got.Reason != ReasonInvalidAddress || got.Allowed() {
		t.Errorf("zero address: %v", got)
	}
}

func TestCIDRHostBitsAndOverlap(t *testing.T) {
	f := newTestFilter(t, Config{DenyCIDRs: []string{"10.2.3.4/8", "0.0.0.0/0"}, AllowCIDRs: []string{"::/0"}})
	for a, want := range map[string]Reason{
		"10.9.9.9":       ReasonCIDRDenied, // /8 of 10.2.3.4 is 10.0.0.0/8
		"8.8.8.8":        ReasonCIDRDenied, // every IPv4 address is denied
		"2001:db8::1":    ReasonAllowed,    // every IPv6 address is allowed
		"::ffff:8.8.8.8": ReasonCIDRDenied,
	} {
		if got := f.CheckRules(addr(a)); got.Reason != want {
			t.Errorf("%s: %v, want %v", a, got, want)
		}
	}
}

func TestCountryRules(t *testing.T) {
	db := testDB(t)
	tests := []struct {
		name string
		cfg  Config
		want map[string]Decision
	}{
		{
			name: "deny list",
			cfg:  Config{CountryDB: db, DenyCountries: []string{"de", "CN"}},
			want: map[string]Decision{
				"127.0.1.1":            {ReasonCountryDenied, "DE"},
				"::ffff:127.0.1.200":   {ReasonCountryDenied, "DE"},
				"127.0.2.1":            {ReasonAllowed, "US"},
				"127.0.3.1":            {ReasonAllowed, "FR"}, // registered country
				"127.0.0.1":            {ReasonAllowed, ""},   // unknown: allowed by default
				"198.51.100.1":         {ReasonCountryDenied, "CN"},
				"192.0.2.1":            {ReasonAllowed, "NL"},
				"2001:db8:1:ffff::1":   {ReasonCountryDenied, "DE"},
				"2001:db8:2::1":        {ReasonAllowed, "JP"},
				"2001:db8:3::1":        {ReasonAllowed, ""},
				"2001:db8:1::1%lo":     {ReasonCountryDenied, "DE"},
				"::1":                  {ReasonAllowed, ""},
				"::ffff:198.51.100.77": {ReasonCountryDenied, "CN"},
			},
		},
		{
			name: "allow list",
			cfg:  Config{CountryDB: db, AllowCountries: []string{"US", "jp", "fr"}},
			want: map[string]Decision{
				"127.0.1.1":     {ReasonCountryNotAllowed, "DE"},
				"127.0.2.1":     {ReasonAllowed, "US"},
				"127.0.3.1":     {ReasonAllowed, "FR"},
				"127.0.0.1":     {ReasonAllowed, ""},
				"2001:db8:1::1": {ReasonCountryNotAllowed, "DE"},
				"2001:db8:2::1": {ReasonAllowed, "JP"},
			},
		},
		{
			name: "allow list, unknown denied",
			cfg:  Config{CountryDB: db, AllowCountries: []string{"US"}, UnknownCountry: UnknownDeny},
			want: map[string]Decision{
				"127.0.2.1":     {ReasonAllowed, "US"},
				"127.0.0.1":     {ReasonCountryUnknown, ""},
				"10.0.0.1":      {ReasonCountryUnknown, ""},
				"2001:db8:3::1": {ReasonCountryUnknown, ""},
				"127.0.1.1":     {ReasonCountryNotAllowed, "DE"},
			},
		},
		{
			name: "deny list, unknown denied",
			cfg:  Config{CountryDB: db, DenyCountries: []string{"DE"}, UnknownCountry: UnknownDeny},
			want: map[string]Decision{
				"127.0.1.1": {ReasonCountryDenied, "DE"},
				"127.0.2.1": {ReasonAllowed, "US"},
				"127.0.0.1": {ReasonCountryUnknown, ""},
			},
		},
		{
			name: "CIDR deny before country",
			cfg:  Config{CountryDB: db, AllowCountries: []string{"DE"}, DenyCIDRs: []string{"127.0.1.128/25"}},
			want: map[string]Decision{
				"127.0.1.1":   {ReasonAllowed, "DE"},
				"127.0.1.129": {ReasonCIDRDenied, ""},
			},
		},
		{
			name: "database without country rules",
			cfg:  Config{CountryDB: db},
			want: map[string]Decision{
				"127.0.1.1": {ReasonAllowed, ""}, // no rules: no lookup
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTestFilter(t, tt.cfg)
			for a, want := range tt.want {
				for _, dir := range []Direction{PEX, Outbound} {
					if got := f.Check(addr(a), dir); got != want {
						t.Errorf("Check(%s, %v) = %v, want %v", a, dir, got, want)
					}
				}
				if got := f.CheckRules(addr(a)); got != want {
					t.Errorf("CheckRules(%s) = %v, want %v", a, got, want)
				}
			}
		})
	}
}

func TestCountryLookup(t *testing.T) {
	f := newTestFilter(t, Config{CountryDB: testDB(t)})
	for a, want := range map[string]string{
		"127.0.1.1": "DE", "::ffff:127.0.2.2": "US", "127.0.3.3": "FR",
		"2001:db8:2::5": "JP", "127.0.0.1": "", "8.8.8.8": "",
	} {
		if got := f.Country(addr(a)); got != want {
			t.Errorf("Country(%s) = %q, want %q", a, got, want)
		}
	}
	if got := f.Country(netip.Addr{}); got != "" {
		t.Errorf("zero address: %q", got)
	}
	if got := newTestFilter(t, Config{}).Country(addr("127.0.1.1")); got != "" {
		t.Errorf("no database: %q", got)
	}
}

// TestCountryCacheBounded checks that the result cache stays within its
// bound and still answers correctly after evictions.
func TestCountryCacheBounded(t *testing.T) {
	f := newTestFilter(t, Config{CountryDB: testDB(t), DenyCountries: []string{"DE"}, CountryCacheSize: 64})
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{127, 0, 1 + byte(i%3), byte(i)})
		want := ReasonAllowed
		if i%3 == 0 {
			want = ReasonCountryDenied
		}
		if got := f.CheckRules(a); got.Reason != want {
			t.Fatalf("%v: %v, want %v", a, got, want)
		}
	}
	db := f.geo.Load()
	n := 0
	for i := range db.cache.shards {
		n += len(db.cache.shards[i].m)
	}
	if n > 64 {
		t.Errorf("cache holds %d entries, bound 64", n)
	}
	if s := f.Stats(); s.DBLookups < 1000-64 || s.DBLookupErrors != 0 {
		t.Errorf("lookups %d errors %d", s.DBLookups, s.DBLookupErrors)
	}
}

func TestDecisionStrings(t *testing.T) {
	if got := (Decision{ReasonCountryDenied, "DE"}).String(); got != "country-denied (DE)" {
		t.Error(got)
	}
	if got := (Decision{Reason: ReasonIPCap}).String(); got != "ip-cap" {
		t.Error(got)
	}
	if (Decision{}).Allowed() {
		t.Error("zero Decision must be a denial")
	}
	seen := map[string]bool{}
	for r := range Reason(numReasons) {
		s := r.String()
		if seen[s] {
			t.Errorf("duplicate label %q", s)
		}
		seen[s] = true
	}
	if Reason(200).String() != "reason(200)" || Direction(9).String() != "direction(9)" {
		t.Error("out-of-range String")
	}
	if Inbound.String() != "inbound" || Outbound.String() != "outbound" || PEX.String() != "pex" {
		t.Error("direction names")
	}
}
