package crypto

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// MaxAddressLen bounds the length of an address string accepted by
// ParseAddress: a 40-digit ID, "@", a DNS name of at most 253 bytes, ":" and a port.
const MaxAddressLen = 2*IDLen + 1 + 253 + 1 + 5 + 2

// Address is a peer's dialable address: "ID@host:port". Host is an IP literal
// (IPv6 without brackets) or a DNS name. An Address whose ID is zero names a
// host whose identity is not known yet.
type Address struct {
	ID   ID
	Host string
	Port uint16
}

// AddressError says what is wrong with an address string.
type AddressError struct {
	Input  string
	Reason string
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("crypto: address %q: %s", e.Input, e.Reason)
}

// ParseAddress parses "ID@host:port", where host is an IPv4 address, an IPv6
// address in brackets, or a DNS name.
func ParseAddress(s string) (Address, error) {
	if len(s) <= MaxAddressLen && strings.IndexByte(s, '@') < 0 {
		return Address{}, &AddressError{s, "missing \"ID@\" before host:port"}
	}
	a, err := parseAddress(s, true)
	if err == nil && a.ID.IsZero() {
		// String omits a zero ID, so this address would not survive a round trip.
		return Address{}, &AddressError{s, "peer ID is all zeros, which means unknown"}
	}
	return a, err
}

// ParseDialAddress parses "ID@host:port" or plain "host:port"; in the second
// form the returned Address has a zero ID.
func ParseDialAddress(s string) (Address, error) {
	return parseAddress(s, strings.IndexByte(s, '@') >= 0)
}

func parseAddress(s string, withID bool) (Address, error) {
	var a Address
	if len(s) > MaxAddressLen {
		return a, &AddressError{s[:32] + "...", fmt.Sprintf("longer than %d bytes", MaxAddressLen)}
	}
	rest := s
	if withID {
		at := strings.IndexByte(s, '@')
		idPart := s[:at]
		if idPart == "" {
			return a, &AddressError{s, "empty peer ID before \"@\""}
		}
		id, err := ParseID(idPart)
		if err != nil {
			return a, &AddressError{s, fmt.Sprintf("peer ID must be %d hex digits", 2*IDLen)}
		}
		a.ID = id
		rest = s[at+1:]
	}
	host, portStr, err := net.SplitHostPort(rest)
	if err != nil {
		return Address{}, &AddressError{s, "want host:port (IPv6 in brackets): " + strings.TrimPrefix(err.Error(), "address "+rest+": ")}
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return Address{}, &AddressError{s, fmt.Sprintf("port %q is not a number in 1-65535", portStr)}
	}
	a.Port = uint16(port)
	if host == "" {
		return Address{}, &AddressError{s, "empty host"}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return Address{}, &AddressError{s, "IPv6 zones are not allowed"}
		}
		if ip.Is6() && !strings.HasPrefix(rest, "[") {
			return Address{}, &AddressError{s, "IPv6 host must be in brackets"}
		}
		a.Host = ip.Unmap().String()
		return a, nil
	}
	if strings.ContainsAny(host, "[]:%") {
		return Address{}, &AddressError{s, fmt.Sprintf("host %q is not a valid IP address", host)}
	}
	if reason := checkDNSName(host); reason != "" {
		return Address{}, &AddressError{s, reason}
	}
	a.Host = strings.ToLower(strings.TrimSuffix(host, "."))
	return a, nil
}

// checkDNSName returns why name is not a valid DNS host name, or "".
func checkDNSName(name string) string {
	name = strings.TrimSuffix(name, ".")
	if len(name) == 0 || len(name) > 253 {
		return fmt.Sprintf("host name %q must be 1-253 bytes", name)
	}
	allDigits := true
	for _, label := range strings.Split(name, ".") {
		if len(label) == 0 || len(label) > 63 {
			return fmt.Sprintf("host name %q has an empty or over-long label", name)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Sprintf("host name %q has a label starting or ending with '-'", name)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '_':
				allDigits = false
			default:
				return fmt.Sprintf("host name %q has invalid character %q", name, c)
			}
		}
	}
	if allDigits {
		return fmt.Sprintf("host %q is neither an IP address nor a host name", name)
	}
	return ""
}

// String returns "ID@host:port", or "host:port" when the ID is zero. IPv6
// hosts are bracketed.
func (a Address) String() string {
	hp := a.HostPort()
	if a.ID.IsZero() {
		return hp
	}
	return a.ID.String() + "@" + hp
}

// HostPort returns "host:port", bracketing IPv6 hosts, for net.Dial.
func (a Address) HostPort() string {
	return net.JoinHostPort(a.Host, strconv.Itoa(int(a.Port)))
}

// AddrPort returns the address as a netip.AddrPort when the host is an IP
// literal; ok is false for DNS names.
func (a Address) AddrPort() (ap netip.AddrPort, ok bool) {
	ip, err := netip.ParseAddr(a.Host)
	if err != nil {
		return ap, false
	}
	return netip.AddrPortFrom(ip.Unmap(), a.Port), true
}

// IsZero reports whether a is the zero Address.
func (a Address) IsZero() bool { return a == Address{} }

// MarshalText implements encoding.TextMarshaler.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it accepts both forms
// ParseDialAddress accepts.
func (a *Address) UnmarshalText(b []byte) error {
	v, err := ParseDialAddress(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}
