package filter

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/time/rate"

	"github.com/peerwire/peerwire/internal/clock"
)

// UnknownPolicy says what Check does with an address the country database
// places in no country (private and reserved ranges, fresh allocations,
// anycast networks). The zero value is UnknownAllow.
type UnknownPolicy uint8

const (
	// UnknownAllow lets addresses of unknown country pass the country rules.
	UnknownAllow UnknownPolicy = iota
	// UnknownDeny denies them with ReasonCountryUnknown.
	UnknownDeny
)

// String returns "allow" or "deny".
func (p UnknownPolicy) String() string {
	switch p {
	case UnknownAllow:
		return "allow"
	case UnknownDeny:
		return "deny"
	}
	return "unknown-policy(" + strconv.Itoa(int(p)) + ")"
}

// ParseUnknownPolicy parses "allow" or "deny" (any case, surrounding spaces
// ignored); "" means UnknownAllow.
func ParseUnknownPolicy(s string) (UnknownPolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "allow":
		return UnknownAllow, nil
	case "deny":
		return UnknownDeny, nil
	}
	return 0, fmt.Errorf("filter: unknown-country policy %q: want \"allow\" or \"deny\"", clip(s))
}

// SplitList splits operator input such as "10.0.0.0/8, 192.168.0.0/16" or
// "de,fr nl" on commas and white space and drops empty items, so a CLI flag
// or environment variable can feed a Config list directly.
func SplitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(f) == 0 {
		return nil
	}
	return f
}

// Config configures a Filter. The zero value is a valid configuration: no
// CIDR or country rules, the default caps and attempt throttle, and no
// exemptions. New validates a Config once; a Config is not retained, so the
// caller may change it afterwards.
type Config struct {
	// AllowCIDRs, when not empty, admits only addresses inside one of its
	// prefixes. Entries are CIDR prefixes ("10.0.0.0/8", "2001:db8::/32")
	// or single addresses ("192.0.2.7"); host bits are ignored and
	// IPv4-mapped IPv6 prefixes ("::ffff:10.0.0.0/104") are taken as the
	// IPv4 prefix they map. At most MaxListEntries entries.
	AllowCIDRs []string

	// DenyCIDRs denies addresses inside any of its prefixes, before any
	// other rule. Same syntax and bound as AllowCIDRs.
	DenyCIDRs []string

	// AllowCountries, when not empty, admits only addresses the country
	// database places in one of these countries. Entries are ISO 3166-1
	// alpha-2 codes in any case ("de", "US"); unassigned codes are an
	// error, except "XK" (Kosovo), which the database vendors use. At most
	// MaxListEntries entries. Requires CountryDB.
	AllowCountries []string

	// DenyCountries denies addresses the database places in one of these
	// countries. Same syntax, bound and requirement as AllowCountries.
	DenyCountries []string

	// CountryDB is the path of a MaxMind-format country database
	// (GeoLite2-Country, GeoIP2-Country, DB-IP's country databases). It is
	// read into memory (at most MaxDBSize bytes) by New and on every reload.
	// Empty means no database; then the country lists must be empty.
	CountryDB string

	// UnknownCountry is the policy for addresses the database places in no
	// country, applied only when a country list is set. Default
	// UnknownAllow.
	UnknownCountry UnknownPolicy

	// DBCheckInterval is how often CountryDB is checked for a change of
	// size or modification time, which triggers a reload. Zero means
	// DefaultDBCheckInterval; negative disables watching (Reload still
	// works). Positive values below MinDBCheckInterval are an error.
	DBCheckInterval time.Duration

	// CountryCacheSize bounds the address → country results cached per
	// loaded database. Zero means DefaultCountryCacheSize; at most
	// MaxCountryCacheSize.
	CountryCacheSize int

	// MaxPerIP is the number of connected peers (counted by Acquire)
	// allowed per IP address. Zero means DefaultMaxPerIP; negative means
	// no cap. At most MaxCap.
	MaxPerIP int

	// MaxPerSubnet is the number of connected peers allowed per subnet.
	// Zero means DefaultMaxPerSubnet; negative means no cap. At most MaxCap.
	MaxPerSubnet int

	// IPv4SubnetBits is the IPv4 prefix length grouping addresses for
	// MaxPerSubnet, 1–32. Zero means DefaultIPv4SubnetBits (24).
	IPv4SubnetBits int

	// IPv6SubnetBits is the IPv6 prefix length grouping addresses for
	// MaxPerSubnet, 1–128. Zero means DefaultIPv6SubnetBits (48).
	IPv6SubnetBits int

	// AttemptInterval is the steady-state spacing of inbound attempts
	// allowed per IP address. Zero means DefaultAttemptInterval; negative
	// disables the attempt throttle.
	AttemptInterval time.Duration

	// AttemptBurst is the number of inbound attempts an IP address may make
	// back to back. Zero means DefaultAttemptBurst; at most MaxAttemptBurst.
	AttemptBurst int

	// MaxTrackedIPs bounds the addresses the attempt throttle remembers.
	// Zero means DefaultMaxTrackedIPs; at most MaxTrackedIPsLimit.
	MaxTrackedIPs int

	// ExemptLoopback exempts loopback addresses (127.0.0.0/8, ::1) from the
	// caps and the attempt throttle, never from CIDR or country rules.
	// Local test networks need it; public nodes should leave it off.
	ExemptLoopback bool

	// ExemptPrivate exempts private addresses (10.0.0.0/8, 172.16.0.0/12,
	// 192.168.0.0/16, fc00::/7) from the caps and the attempt throttle,
	// never from CIDR or country rules.
	ExemptPrivate bool
}

// Deps are what a Filter is wired to, as opposed to its settings (Config).
// The zero value means the system clock and no logging.
type Deps struct {
	// Clock drives the attempt throttle (Now, called concurrently) and the
	// country database's reload polling (NewTicker). Nil means clock.Real.
	Clock clock.Clock
	// Logger receives database reload events and errors, never anything
	// per check. Nil means silent.
	Logger *slog.Logger
}

// ConfigError reports an invalid Config field or list entry. It names the
// field, the entry's index for lists, and the offending value.
type ConfigError struct {
	// Field is the Config field name, e.g. "DenyCIDRs".
	Field string
	// Index is the entry's position in a list field, or -1.
	Index int
	// Value is the offending value as text (long values are clipped).
	Value string
	// Err says what is wrong with it.
	Err error
}

// Error returns e.g. `filter: DenyCIDRs[2] "10.0.0.0/33": prefix length out of range`.
func (e *ConfigError) Error() string {
	name := e.Field
	if e.Index >= 0 {
		name += "[" + strconv.Itoa(e.Index) + "]"
	}
	return fmt.Sprintf("filter: %s %q: %v", name, clip(e.Value), e.Err)
}

// Unwrap returns e.Err.
func (e *ConfigError) Unwrap() error { return e.Err }

// clip shortens s for an error message, so pasted garbage does not flood
// logs.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// settings is a validated, normalised Config. It is immutable after New.
type settings struct {
	allow, deny  prefixSet
	allowCountry countrySet
	denyCountry  countrySet
	countryRules bool
	unknownDeny  bool

	dbPath     string
	dbInterval time.Duration // 0: no watching
	cacheSize  int

	maxPerIP, maxPerSubnet int32 // 0: no cap
	v4Bits, v6Bits         int

	throttle   bool
	limit      rate.Limit
	burst      int
	maxTracked int
	idleAfter  time.Duration // a bucket untouched this long is full again

	exemptLoopback, exemptPrivate bool

	clock clock.Clock
	now   func() time.Time
	log   *slog.Logger
}

func fieldErr(field string, index int, value string, err error) error {
	return &ConfigError{Field: field, Index: index, Value: value, Err: err}
}

func intErr(field string, v int, format string, args ...any) error {
	return fieldErr(field, -1, strconv.Itoa(v), fmt.Errorf(format, args...))
}

// validate checks c and returns its normalised form.
func (c *Config) validate() (settings, error) {
	var s settings
	var err error
	if s.allow, err = parsePrefixList("AllowCIDRs", c.AllowCIDRs); err != nil {
		return s, err
	}
	if s.deny, err = parsePrefixList("DenyCIDRs", c.DenyCIDRs); err != nil {
		return s, err
	}
	if s.allowCountry, err = parseCountryList("AllowCountries", c.AllowCountries); err != nil {
		return s, err
	}
	if s.denyCountry, err = parseCountryList("DenyCountries", c.DenyCountries); err != nil {
		return s, err
	}
	s.countryRules = len(c.AllowCountries) > 0 || len(c.DenyCountries) > 0
	s.dbPath = c.CountryDB
	if s.countryRules && s.dbPath == "" {
		return s, fieldErr("CountryDB", -1, "", errors.New("required when AllowCountries or DenyCountries is set"))
	}
	switch c.UnknownCountry {
	case UnknownAllow:
	case UnknownDeny:
		s.unknownDeny = true
	default:
		return s, intErr("UnknownCountry", int(c.UnknownCountry), "want UnknownAllow or UnknownDeny")
	}

	switch d := c.DBCheckInterval; {
	case d == 0:
		s.dbInterval = DefaultDBCheckInterval
	case d < 0:
		s.dbInterval = 0
	case d < MinDBCheckInterval:
		return s, fieldErr("DBCheckInterval", -1, d.String(), fmt.Errorf("below the minimum %v", MinDBCheckInterval))
	default:
		s.dbInterval = d
	}
	if s.cacheSize, err = sizeField("CountryCacheSize", c.CountryCacheSize, DefaultCountryCacheSize, MaxCountryCacheSize); err != nil {
		return s, err
	}

	if s.maxPerIP, err = capField("MaxPerIP", c.MaxPerIP, DefaultMaxPerIP); err != nil {
		return s, err
	}
	if s.maxPerSubnet, err = capField("MaxPerSubnet", c.MaxPerSubnet, DefaultMaxPerSubnet); err != nil {
		return s, err
	}
	if s.v4Bits, err = bitsField("IPv4SubnetBits", c.IPv4SubnetBits, DefaultIPv4SubnetBits, 32); err != nil {
		return s, err
	}
	if s.v6Bits, err = bitsField("IPv6SubnetBits", c.IPv6SubnetBits, DefaultIPv6SubnetBits, 128); err != nil {
		return s, err
	}

	interval := c.AttemptInterval
	if interval == 0 {
		interval = DefaultAttemptInterval
	}
	if s.burst, err = sizeField("AttemptBurst", c.AttemptBurst, DefaultAttemptBurst, MaxAttemptBurst); err != nil {
		return s, err
	}
	if s.maxTracked, err = sizeField("MaxTrackedIPs", c.MaxTrackedIPs, DefaultMaxTrackedIPs, MaxTrackedIPsLimit); err != nil {
		return s, err
	}
	if interval > 0 {
		s.throttle = true
		s.limit = rate.Every(interval)
		s.idleAfter = time.Duration(s.burst) * interval
		if s.idleAfter/time.Duration(s.burst) != interval { // overflow: never idle
			s.idleAfter = 1<<63 - 1
		}
	}

	s.exemptLoopback = c.ExemptLoopback
	s.exemptPrivate = c.ExemptPrivate
	return s, nil
}

// sizeField applies the default for zero and checks 1..max.
func sizeField(field string, v, def, max int) (int, error) {
	switch {
	case v == 0:
		return def, nil
	case v < 0:
		return 0, intErr(field, v, "must not be negative")
	case v > max:
		return 0, intErr(field, v, "above the limit %d", max)
	}
	return v, nil
}

// capField applies the default for zero and maps negative to "no cap" (0).
func capField(field string, v, def int) (int32, error) {
	switch {
	case v == 0:
		return int32(def), nil
	case v < 0:
		return 0, nil
	case v > MaxCap:
		return 0, intErr(field, v, "above the limit %d", MaxCap)
	}
	return int32(v), nil
}

func bitsField(field string, v, def, max int) (int, error) {
	if v == 0 {
		return def, nil
	}
	if v < 1 || v > max {
		return 0, intErr(field, v, "want a prefix length from 1 to %d", max)
	}
	return v, nil
}

func parsePrefixList(field string, list []string) (prefixSet, error) {
	var ps prefixSet
	if len(list) > MaxListEntries {
		return ps, fieldErr(field, -1, strconv.Itoa(len(list))+" entries", fmt.Errorf("more than %d entries", MaxListEntries))
	}
	for i, s := range list {
		p, err := parsePrefix(s)
		if err != nil {
			return ps, fieldErr(field, i, s, err)
		}
		ps.add(p)
	}
	return ps, nil
}

// parsePrefix parses a CIDR prefix or a single address, unmaps IPv4-mapped
// prefixes and clears host bits.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Prefix{}, errors.New("empty entry")
	}
	var p netip.Prefix
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, errors.New(strings.TrimPrefix(err.Error(), fmt.Sprintf("ParseAddr(%q): ", s)))
		}
		if a.Zone() != "" {
			return p, errors.New("zones are not allowed")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	} else {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, errors.New(strings.TrimPrefix(err.Error(), fmt.Sprintf("netip.ParsePrefix(%q): ", s)))
		}
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return p, errors.New("IPv4-mapped prefix shorter than /96 mixes IPv4 and IPv6")
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

func parseCountryList(field string, list []string) (countrySet, error) {
	var cs countrySet
	if len(list) > MaxListEntries {
		return cs, fieldErr(field, -1, strconv.Itoa(len(list))+" entries", fmt.Errorf("more than %d entries", MaxListEntries))
	}
	for i, s := range list {
		idx, err := parseCountry(s)
		if err != nil {
			return cs, fieldErr(field, i, s, err)
		}
		cs.add(idx)
	}
	return cs, nil
}
