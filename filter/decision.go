package filter

import "strconv"

// Direction says where an address comes from, and so which checks apply to
// it. The zero value is Inbound, the strictest.
type Direction uint8

const (
	// Inbound is a connection accepted from the network, checked before the
	// handshake: rules, attempt throttle and caps.
	Inbound Direction = iota
	// Outbound is an address about to be dialed: rules and caps.
	Outbound
	// PEX is an address learned through peer exchange: rules only, since
	// nothing is connected or attempted yet.
	PEX

	numDirections = iota
)

var directionNames = [numDirections]string{"inbound", "outbound", "pex"}

// String returns "inbound", "outbound" or "pex".
func (d Direction) String() string {
	if int(d) < len(directionNames) {
		return directionNames[d]
	}
	return "direction(" + strconv.Itoa(int(d)) + ")"
}

// Reason says why Check decided as it did. Its String form is a stable,
// lower-case label suitable for logs and metrics.
type Reason uint8

const (
	// ReasonUnspecified is the zero value; Check never returns it, and a
	// zero Decision is a denial.
	ReasonUnspecified Reason = iota
	// ReasonAllowed: every check that applies passed.
	ReasonAllowed
	// ReasonInvalidAddress: the address is the zero netip.Addr.
	ReasonInvalidAddress
	// ReasonCIDRDenied: the address is inside a DenyCIDRs entry.
	ReasonCIDRDenied
	// ReasonCIDRNotAllowed: AllowCIDRs is set and no entry contains the
	// address.
	ReasonCIDRNotAllowed
	// ReasonCountryDenied: the address's country is in DenyCountries.
	ReasonCountryDenied
	// ReasonCountryNotAllowed: AllowCountries is set and does not contain
	// the address's country.
	ReasonCountryNotAllowed
	// ReasonCountryUnknown: country rules are set, the database places the
	// address in no country, and UnknownCountry is UnknownDeny.
	ReasonCountryUnknown
	// ReasonThrottled: the address made inbound attempts faster than the
	// attempt throttle allows.
	ReasonThrottled
	// ReasonIPCap: the address already has MaxPerIP connected peers.
	ReasonIPCap
	// ReasonSubnetCap: the address's subnet already has MaxPerSubnet
	// connected peers.
	ReasonSubnetCap
	// ReasonClosed: the Filter was closed.
	ReasonClosed

	numReasons = iota
)

var reasonNames = [numReasons]string{
	"unspecified",
	"allowed",
	"invalid-address",
	"cidr-denied",
	"cidr-not-allowed",
	"country-denied",
	"country-not-allowed",
	"country-unknown",
	"throttled",
	"ip-cap",
	"subnet-cap",
	"closed",
}

// String returns the reason's label, e.g. "cidr-denied".
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// Decision is the result of Check: allowed, or denied for a Reason. The zero
// value is a denial with ReasonUnspecified.
type Decision struct {
	// Reason is ReasonAllowed when the address passed, otherwise why not.
	Reason Reason
	// Country is the upper-case ISO 3166-1 alpha-2 code the database gave
	// for the address, or "" when country rules are not set, no database
	// is loaded, or the database knows no country for it.
	Country string
}

// Allowed reports whether the address passed.
func (d Decision) Allowed() bool { return d.Reason == ReasonAllowed }

// String returns the reason label, followed by the country code in
// parentheses when one is known, e.g. "country-denied (DE)".
func (d Decision) String() string {
	if d.Country == "" {
		return d.Reason.String()
	}
	return d.Reason.String() + " (" + d.Country + ")"
}
