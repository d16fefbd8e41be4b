package filter

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/mmdbtest"
)

func TestConfigErrors(t *testing.T) {
	db := testDB(t)
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  Config
		want string // exact error text
	}{
		{"prefix length", Config{DenyCIDRs: []string{"10.0.0.0/8", "::1", "10.0.0.0/33"}},
			`filter: DenyCIDRs[2] "10.0.0.0/33": prefix length out of range`},
		{"not an address", Config{AllowCIDRs: []string{"example.com"}},
			`filter: AllowCIDRs[0] "example.com": unexpected character (at "example.com")`},
		{"empty entry", Config{AllowCIDRs: []string{"10.0.0.0/8", " "}},
			`filter: AllowCIDRs[1] " ": empty entry`},
		{"zone", Config{DenyCIDRs: []string{"fe80::1%eth0"}},
			`filter: DenyCIDRs[0] "fe80::1%eth0": zones are not allowed`},
		{"short mapped prefix", Config{DenyCIDRs: []string{"::ffff:0:0/95"}},
			`filter: DenyCIDRs[0] "::ffff:0:0/95": IPv4-mapped prefix shorter than /96 mixes IPv4 and IPv6`},
		{"country not two letters", Config{CountryDB: db, DenyCountries: []string{"DE", "DEU"}},
			`filter: DenyCountries[1] "DEU": want a two-letter ISO 3166-1 alpha-2 country code`},
		{"country not letters", Config{CountryDB: db, AllowCountries: []string{"D1"}},
			`filter: AllowCountries[0] "D1": want a two-letter ISO 3166-1 alpha-2 country code`},
		{"country unassigned", Config{CountryDB: db, AllowCountries: []string{"us", "zz"}},
			`filter: AllowCountries[1] "zz": not an assigned ISO 3166-1 alpha-2 country code`},
		{"country non-ASCII", Config{CountryDB: db, AllowCountries: []string{"dé"}},
			`filter: AllowCountries[0] "dé": want a two-letter ISO 3166-1 alpha-2 country code`},
		{"countries without database", Config{DenyCountries: []string{"DE"}},
			`filter: CountryDB "": required when AllowCountries or DenyCountries is set`},
		{"missing database", Config{CountryDB: filepath.Join(dir, "nope.mmdb")},
			`filter: country database "` + filepath.Join(dir, "nope.mmdb") + `": open: no such file or directory`},
		{"database is a directory", Config{CountryDB: dir},
			`filter: country database "` + dir + `": not a regular file`},
		{"unknown policy", Config{UnknownCountry: 7},
			`filter: UnknownCountry "7": want UnknownAllow or UnknownDeny`},
		{"check interval", Config{DBCheckInterval: time.Millisecond},
			`filter: DBCheckInterval "1ms": below the minimum 1s`},
		{"cap too large", Config{MaxPerIP: MaxCap + 1},
			`filter: MaxPerIP "1073741825": above the limit 1073741824`},
		{"subnet bits v4", Config{IPv4SubnetBits: 33},
			`filter: IPv4SubnetBits "33": want a prefix length from 1 to 32`},
		{"subnet bits v6", Config{IPv6SubnetBits: -1},
			`filter: IPv6SubnetBits "-1": want a prefix length from 1 to 128`},
		{"negative burst", Config{AttemptBurst: -1},
			`filter: AttemptBurst "-1": must not be negative`},
		{"tracked too large", Config{MaxTrackedIPs: MaxTrackedIPsLimit + 1},
			`filter: MaxTrackedIPs "1048577": above the limit 1048576`},
		{"negative cache", Config{CountryCacheSize: -5},
			`filter: CountryCacheSize "-5": must not be negative`},
		{"too many entries", Config{DenyCIDRs: make([]string, MaxListEntries+1)},
			`filter: DenyCIDRs "65537 entries": more than 65536 entries`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.cfg, Deps{})
			if err == nil {
				f.Close()
				t.Fatalf("New succeeded, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			var ce *ConfigError
			var de *DBError
			if !errors.As(err, &ce) && !errors.As(err, &de) {
				t.Errorf("error %T is neither *ConfigError nor *DBError", err)
			}
		})
	}
}

func TestConfigErrorFields(t *testing.T) {
	_, err := New(Config{AllowCIDRs: []string{"1.2.3.4/8", "bad"}}, Deps{})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want *ConfigError", err)
	}
	if ce.Field != "AllowCIDRs" || ce.Index != 1 || ce.Value != "bad" || errors.Unwrap(err) == nil {
		t.Errorf("got %+v", ce)
	}
	_, err = New(Config{DenyCIDRs: []string{strings.Repeat("x", 1000)}}, Deps{})
	if err == nil || len(err.Error()) > 300 {
		t.Errorf("long values must be clipped: %v", err)
	}
}

func TestCorruptDatabase(t *testing.T) {
	dir := t.TempDir()
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(i*7919 + i>>3)
	}
	valid := mmdbtest.Build(t, "GeoLite2-Country", testNets)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"random bytes", garbage, "invalid MaxMind DB file"},
		{"empty", nil, "empty file"},
		{"truncated", valid[:len(valid)/2], "invalid MaxMind DB file"},
		{"ASN database", mmdbtest.Build(t, "GeoLite2-ASN", testNets), `database type "GeoLite2-ASN" is not a country or city database`},
		{"unknown type", mmdbtest.Build(t, "Homemade-Country", testNets), `does not support the "Homemade-Country" database type`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".mmdb")
			must(t, os.WriteFile(path, tt.data, 0o644))
			_, err := New(Config{CountryDB: path, DenyCountries: []string{"DE"}}, Deps{})
			var de *DBError
			if !errors.As(err, &de) || de.Path != path {
				t.Fatalf("got %v, want *DBError for %s", err, path)
			}
			wantErr(t, err, `filter: country database "`+path+`": `, tt.want)
		})
	}
}

func TestDatabaseTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.mmdb")
	fh, err := os.Create(path)
	must(t, err)
	must(t, fh.Truncate(MaxDBSize+1)) // sparse: no disk used
	must(t, fh.Close())
	_, err = New(Config{CountryDB: path}, Deps{})
	wantErr(t, err, `filter: country database "`+path+`": 268435457 bytes is above the limit of 268435456`)
}

func TestConfigDefaults(t *testing.T) {
	var c Config
	s, err := c.validate()
	must(t, err)
	checks := []struct {
		name      string
		got, want any
	}{
		{"maxPerIP", s.maxPerIP, int32(DefaultMaxPerIP)},
		{"maxPerSubnet", s.maxPerSubnet, int32(DefaultMaxPerSubnet)},
		{"v4Bits", s.v4Bits, DefaultIPv4SubnetBits},
		{"v6Bits", s.v6Bits, DefaultIPv6SubnetBits},
		{"throttle", s.throttle, true},
		{"burst", s.burst, DefaultAttemptBurst},
		{"maxTracked", s.maxTracked, DefaultMaxTrackedIPs},
		{"idleAfter", s.idleAfter, time.Duration(DefaultAttemptBurst) * DefaultAttemptInterval},
		{"dbInterval", s.dbInterval, DefaultDBCheckInterval},
		{"cacheSize", s.cacheSize, DefaultCountryCacheSize},
		{"countryRules", s.countryRules, false},
		{"unknownDeny", s.unknownDeny, false},
		{"exempt", s.exemptLoopback || s.exemptPrivate, false},
		{"no CIDR rules", s.allow.empty() && s.deny.empty(), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	c = Config{MaxPerIP: -1, MaxPerSubnet: -1, AttemptInterval: -1, DBCheckInterval: -1}
	s, err = c.validate()
	must(t, err)
	if s.maxPerIP != 0 || s.maxPerSubnet != 0 || s.throttle || s.dbInterval != 0 {
		t.Errorf("negative values must disable: %+v", s)
	}
}

func TestCountryNormalisation(t *testing.T) {
	names := newCountryNames()
	for _, in := range []string{"de", "DE", "De", " dE "} {
		idx, err := parseCountry(in)
		must(t, err)
		if names[idx] != "DE" {
			t.Errorf("%q → %q", in, names[idx])
		}
	}
	codes := strings.Fields(assignedCountries)
	if len(codes) != 250 { // 249 assigned + XK
		t.Errorf("%d codes, want 250", len(codes))
	}
	if !slices.IsSorted(codes) {
		t.Error("assignedCountries is not sorted")
	}
	for _, c := range codes {
		idx, err := parseCountry(c)
		must(t, err)
		if names[idx] != c {
			t.Errorf("%q → %q", c, names[idx])
		}
	}
}

func TestSplitList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"10.0.0.0/8", []string{"10.0.0.0/8"}},
		{"10.0.0.0/8, 192.168.0.0/16,,fc00::/7", []string{"10.0.0.0/8", "192.168.0.0/16", "fc00::/7"}},
		{"de fr\tnl\nus", []string{"de", "fr", "nl", "us"}},
	}
	for _, tt := range tests {
		if got := SplitList(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("SplitList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseUnknownPolicy(t *testing.T) {
	for in, want := range map[string]UnknownPolicy{"": UnknownAllow, "allow": UnknownAllow, " DENY ": UnknownDeny} {
		p, err := ParseUnknownPolicy(in)
		if err != nil || p != want {
			t.Errorf("ParseUnknownPolicy(%q) = %v, %v", in, p, err)
		}
	}
	_, err := ParseUnknownPolicy("maybe")
	if err == nil || err.Error() != `filter: unknown-country policy "maybe": want "allow" or "deny"` {
		t.Errorf("got %v", err)
	}
}

// FuzzConfig feeds operator strings through SplitList, ParseUnknownPolicy
// and New. Each must either fail with a "filter: " error or accept, and an
// accepted Filter must deny the addresses its deny entries name and let the
// addresses its allow entries name pass the allow list.
func FuzzConfig(f *testing.F) {
	f.Add("10.0.0.0/8, 192.168.1.1", "2001:db8::/32,::ffff:10.0.0.0/104", "de,FR", "us", "deny")
	f.Add("10.0.0.0/33", "", "", "", "")
	f.Add("::ffff:0:0/95", "fe80::1%eth0", "DEU", "zz", "allow")
	f.Add("0.0.0.0/0", "::/0", "", "", "")
	f.Add("1.2.3.4/8 , 1.2.3.4", "::ffff:1.2.3.4", "xk", "", " Deny ")
	f.Add("", "", "", "", "maybe")
	f.Fuzz(func(t *testing.T, allow, deny, allowC, denyC, policy string) {
		checkPrefix := func(err error) {
			if err != nil && !strings.HasPrefix(err.Error(), "filter: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
		}
		p, err := ParseUnknownPolicy(policy)
		checkPrefix(err)
		// Country lists need a database to reach New; parse them alone.
		_, err = parseCountryList("AllowCountries", SplitList(allowC))
		checkPrefix(err)
		_, err = parseCountryList("DenyCountries", SplitList(denyC))
		checkPrefix(err)

		cfg := Config{AllowCIDRs: SplitList(allow), DenyCIDRs: SplitList(deny), UnknownCountry: p}
		flt, err := New(cfg, Deps{})
		if err != nil {
			checkPrefix(err)
			return
		}
		defer flt.Close()
		for _, e := range cfg.DenyCIDRs {
			pfx, err := parsePrefix(e)
			if err != nil {
				t.Fatalf("New accepted %q, parsePrefix rejects it: %v", e, err)
			}
			if d := flt.CheckRules(pfx.Addr()); d.Reason != ReasonCIDRDenied {
				t.Fatalf("deny entry %q: %v got %v", e, pfx.Addr(), d)
			}
		}
		for _, e := range cfg.AllowCIDRs {
			pfx, _ := parsePrefix(e)
			if d := flt.CheckRules(pfx.Addr()); d.Reason == ReasonCIDRNotAllowed {
				t.Fatalf("allow entry %q: %v got %v", e, pfx.Addr(), d)
			}
		}
	})
}
