package filter

import (
	"errors"
	"strings"
)

// assignedCountries lists the officially assigned ISO 3166-1 alpha-2 codes,
// plus XK (Kosovo), a user-assigned code that MaxMind and DB-IP use.
const assignedCountries = "" +
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ " +
	"BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ " +
	"DE DJ DK DM DO DZ " +
	"EC EE EG EH ER ES ET " +
	"FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY " +
	"HK HM HN HR HT HU " +
	"ID IE IL IM IN IO IQ IR IS IT " +
	"JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ " +
	"LA LB LC LI LK LR LS LT LU LV LY " +
	"MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
	"NA NC NE NF NG NI NL NO NP NR NU NZ " +
	"OM " +
	"PA PE PF PG PH PK PL PM PN PR PS PT PW PY " +
	"QA " +
	"RE RO RS RU RW " +
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ " +
	"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ " +
	"UA UG UM US UY UZ " +
	"VA VC VE VG VI VN VU " +
	"WF WS " +
	"XK " +
	"YE YT " +
	"ZA ZM ZW "

// countryIndex maps a two-letter code in either case to 0..675 (A–Z × A–Z).
// It reports false for anything else.
func countryIndex(code string) (int, bool) {
	if len(code) != 2 {
		return 0, false
	}
	a, b := code[0]|0x20, code[1]|0x20 // ASCII lower case
	if a < 'a' || a > 'z' || b < 'a' || b > 'z' {
		return 0, false
	}
	return int(a-'a')*26 + int(b-'a'), true
}

// parseCountry validates an operator-supplied country code.
func parseCountry(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty entry")
	}
	idx, ok := countryIndex(s)
	if !ok {
		return 0, errors.New("want a two-letter ISO 3166-1 alpha-2 country code")
	}
	if !strings.Contains(assignedCountries, strings.ToUpper(s)+" ") {
		return 0, errors.New("not an assigned ISO 3166-1 alpha-2 country code")
	}
	return idx, nil
}

// countrySet is a set of country indexes, one bit each.
type countrySet struct {
	bits [(numCountries + 63) / 64]uint64
	n    int
}

func (c *countrySet) add(i int) {
	if !c.has(i) {
		c.bits[i/64] |= 1 << (i % 64)
		c.n++
	}
}

func (c *countrySet) has(i int) bool { return c.bits[i/64]&(1<<(i%64)) != 0 }

// countryNames maps a country index to its upper-case code. It is built once
// per Filter from one string, so returning a code never allocates.
type countryNames [numCountries]string

func newCountryNames() *countryNames {
	var b strings.Builder
	b.Grow(2 * numCountries)
	for i := range numCountries {
		b.WriteByte(byte('A' + i/26))
		b.WriteByte(byte('A' + i%26))
	}
	all := b.String()
	var n countryNames
	for i := range n {
		n[i] = all[2*i : 2*i+2]
	}
	return &n
}
