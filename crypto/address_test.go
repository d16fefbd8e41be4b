package crypto

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

const testID = rfc8032ID

func TestParseAddress(t *testing.T) {
	id := ID(mustHex(t, testID))
	long63 := strings.Repeat("a", 63)
	name253 := strings.Join([]string{long63, long63, long63, strings.Repeat("b", 61)}, ".") // 63*3+61+3 = 253
	tests := []struct {
		in       string
		want     Address
		wantErr  string // substring of the reason; "" means success
		dialOnly bool   // no "ID@": ParseAddress refuses it whatever ParseDialAddress does
	}{
		// IPv4.
		{in: testID + "@1.2.3.4:26656", want: Address{id, "1.2.3.4", 26656}},
		{in: testID + "@127.0.0.1:1", want: Address{id, "127.0.0.1", 1}},
		{in: testID + "@0.0.0.0:65535", want: Address{id, "0.0.0.0", 65535}},
		{in: testID + "@1.2.3.4:0080", want: Address{id, "1.2.3.4", 80}}, // leading zeros in the port
		{in: strings.ToUpper(testID) + "@1.2.3.4:80", want: Address{id, "1.2.3.4", 80}},
		// Brackets around an IPv4 literal are tolerated (as by net.Dial) and dropped.
		{in: testID + "@[1.2.3.4]:80", want: Address{id, "1.2.3.4", 80}},
		// IPv6, in brackets, printed in canonical form.
		{in: testID + "@[::1]:80", want: Address{id, "::1", 80}},
		{in: testID + "@[2001:DB8:0:0:0:0:0:1]:443", want: Address{id, "2001:db8::1", 443}},
		{in: testID + "@[::]:1", want: Address{id, "::", 1}},
		// IPv4-mapped IPv6 is the IPv4 address.
		{in: testID + "@[::ffff:1.2.3.4]:80", want: Address{id, "1.2.3.4", 80}},
		{in: testID + "@[::ffff:102:304]:80", want: Address{id, "1.2.3.4", 80}},
		// DNS names: case folded, trailing dot removed.
		{in: testID + "@seed.example.com:26656", want: Address{id, "seed.example.com", 26656}},
		{in: testID + "@Seed.EXAMPLE.com.:26656", want: Address{id, "seed.example.com", 26656}},
		{in: testID + "@localhost:1", want: Address{id, "localhost", 1}},
		{in: testID + "@node-1.x_y.example:1", want: Address{id, "node-1.x_y.example", 1}},
		{in: testID + "@1.2.3.com:1", want: Address{id, "1.2.3.com", 1}},
		{in: testID + "@example.123:1", want: Address{id, "example.123", 1}},
		{in: testID + "@" + long63 + ".com:1", want: Address{id, long63 + ".com", 1}},
		{in: testID + "@" + name253 + ":1", want: Address{id, name253, 1}},
		{in: testID + "@" + name253 + ".:1", want: Address{id, name253, 1}},
		// Plain host:port, for ParseDialAddress only.
		{in: "1.2.3.4:80", want: Address{Host: "1.2.3.4", Port: 80}, dialOnly: true},
		{in: "[::1]:80", want: Address{Host: "::1", Port: 80}, dialOnly: true},
		{in: "Example.COM.:80", want: Address{Host: "example.com", Port: 80}, dialOnly: true},
		{in: "[::ffff:10.0.0.1]:80", want: Address{Host: "10.0.0.1", Port: 80}, dialOnly: true},

		// The ID.
		{in: "@1.2.3.4:80", wantErr: `empty peer ID before "@"`},
		{in: testID[:39] + "@1.2.3.4:80", wantErr: "peer ID must be 40 hex digits"},
		{in: testID[:38] + "zz@1.2.3.4:80", wantErr: "peer ID must be 40 hex digits"},
		{in: "nodeid@1.2.3.4:80", wantErr: "peer ID must be 40 hex digits"},
		{in: testID + "@" + testID + "@1.2.3.4:80", wantErr: "invalid character '@'"},
		// The port.
		{in: testID + "@1.2.3.4", wantErr: "missing port in address"},
		{in: testID + "@1.2.3.4:", wantErr: `port "" is not a number in 1-65535`},
		{in: testID + "@1.2.3.4:0", wantErr: `port "0" is not a number in 1-65535`},
		{in: testID + "@1.2.3.4:65536", wantErr: `port "65536" is not a number in 1-65535`},
		{in: testID + "@1.2.3.4:http", wantErr: `port "http" is not a number`},
		{in: testID + "@1.2.3.4:-1", wantErr: `port "-1" is not a number`},
		{in: testID + "@1.2.3.4:+80", wantErr: `port "+80" is not a number`},
		{in: testID + "@1.2.3.4:8_0", wantErr: `port "8_0" is not a number`},
		{in: testID + "@1.2.3.4: 80", wantErr: `port " 80" is not a number`},
		{in: testID + "@[::1]", wantErr: "missing port in address"},
		// IPv6 without brackets, zones, stray brackets.
		{in: testID + "@::1:80", wantErr: "too many colons"},
		{in: testID + "@2001:db8::1:80", wantErr: "too many colons"},
		{in: testID + "@::ffff:1.2.3.4:80", wantErr: "too many colons"},
		{in: testID + "@[fe80::1%eth0]:80", wantErr: "IPv6 zones are not allowed"},
		{in: testID + "@[fe80::1%25eth0]:80", wantErr: "IPv6 zones are not allowed"},
		{in: testID + "@[1.2.3.4%eth0]:80", wantErr: "not a valid IP address"},
		{in: testID + "@[::g]:80", wantErr: "not a valid IP address"},
		{in: testID + "@[[::1]]:80", wantErr: "want host:port"},
		{in: testID + "@[::1:80", wantErr: "want host:port"},
		{in: testID + "@::1]:80", wantErr: "want host:port"},
		// Empty host.
		{in: testID + "@:80", wantErr: "empty host"},
		{in: testID + "@[]:80", wantErr: "empty host"},
		{in: ":80", wantErr: "empty host", dialOnly: true},
		// DNS names.
		{in: testID + "@-bad.example:1", wantErr: "starting or ending with '-'"},
		{in: testID + "@bad-.example:1", wantErr: "starting or ending with '-'"},
		{in: testID + "@ok.-bad:1", wantErr: "starting or ending with '-'"},
		{in: testID + "@" + strings.Repeat("a", 64) + ".com:1", wantErr: "empty or over-long label"},
		{in: testID + "@a..b:1", wantErr: "empty or over-long label"},
		{in: testID + "@.a:1", wantErr: "empty or over-long label"},
		{in: testID + "@a.b..:1", wantErr: "empty or over-long label"},
		{in: testID + "@.:1", wantErr: "must be 1-253 bytes"},
		{in: testID + "@" + name253 + "c:1", wantErr: "must be 1-253 bytes"},
		{in: testID + "@exa mple.com:1", wantErr: "invalid character ' '"},
		{in: testID + "@exa*mple.com:1", wantErr: "invalid character '*'"},
		{in: testID + "@exämple.com:1", wantErr: "invalid character"},
		{in: testID + "@a/b:1", wantErr: "invalid character '/'"},
		{in: testID + "@a\x00b:1", wantErr: "invalid character"},
		// All-digit hosts that are not IPv4 literals.
		{in: testID + "@999.1.1.1:80", wantErr: "neither an IP address nor a host name"},
		{in: testID + "@1.2.3:80", wantErr: "neither an IP address nor a host name"},
		{in: testID + "@01.2.3.4:80", wantErr: "neither an IP address nor a host name"},
		{in: testID + "@1.2.3.4.:80", wantErr: "neither an IP address nor a host name"},
		{in: testID + "@12345:80", wantErr: "neither an IP address nor a host name"},
		// Over-long input.
		{in: testID + "@" + strings.Repeat("a.", 200) + "com:1", wantErr: "longer than 302 bytes"},
		{in: strings.Repeat("x", 10000), wantErr: "longer than 302 bytes", dialOnly: true},
	}
	for _, tt := range tests {
		in := short(tt.in)
		check := func(fn string, parse func(string) (Address, error), wantErr string) {
			t.Helper()
			wantOK := wantErr == ""
			got, err := parse(tt.in)
			if wantOK {
				if err != nil {
					t.Errorf("%s(%q): %v", fn, in, err)
					return
				}
				if got != tt.want {
					t.Errorf("%s(%q) = %#v, want %#v", fn, in, got, tt.want)
				}
				// String then parse gives the same Address.
				again, err := parse(got.String())
				if err != nil || again != got {
					t.Errorf("%s(%q).String() = %q re-parses to %#v, %v", fn, in, got.String(), again, err)
				}
				return
			}
			var ae *AddressError
			if !errors.As(err, &ae) {
				t.Errorf("%s(%q) error = %v (%T), want an *AddressError", fn, in, err, err)
				return
			}
			if !strings.Contains(ae.Reason, wantErr) {
				t.Errorf("%s(%q) error = %q, want the reason to contain %q", fn, in, short(err.Error()), wantErr)
			}
			if !strings.HasPrefix(err.Error(), "crypto: address ") {
				t.Errorf("%s(%q) error %q lacks the package prefix", fn, in, err)
			}
			if len(ae.Input) > MaxAddressLen+3 {
				t.Errorf("%s(%q) error echoes %d bytes of input", fn, in, len(ae.Input))
			}
			if got != (Address{}) {
				t.Errorf("%s(%q) returned %#v with an error, want zero", fn, in, got)
			}
		}
		addrErr := tt.wantErr
		if tt.dialOnly && len(tt.in) <= MaxAddressLen {
			addrErr = `missing "ID@"`
		}
		check("ParseAddress", ParseAddress, addrErr)
		check("ParseDialAddress", ParseDialAddress, tt.wantErr)
	}
}

func TestParseAddressRequiresID(t *testing.T) {
	for _, in := range []string{"1.2.3.4:80", "[::1]:80", "example.com:80"} {
		_, err := ParseAddress(in)
		var ae *AddressError
		if !errors.As(err, &ae) || !strings.Contains(ae.Reason, `missing "ID@"`) {
			t.Errorf("ParseAddress(%q) error = %v, want missing ID@", in, err)
		}
	}
}

// TestParseAddressZeroID: the zero ID means "unknown", and String omits it,
// so ParseAddress (which promises an ID) refuses it; ParseDialAddress reads
// it as the plain host:port form.
func TestParseAddressZeroID(t *testing.T) {
	in := strings.Repeat("0", 40) + "@1.2.3.4:80"
	_, err := ParseAddress(in)
	var ae *AddressError
	if !errors.As(err, &ae) || !strings.Contains(ae.Reason, "all zeros") {
		t.Errorf("ParseAddress(%q) error = %v, want one about an all-zero ID", in, err)
	}
	a, err := ParseDialAddress(in)
	if err != nil || a != (Address{Host: "1.2.3.4", Port: 80}) {
		t.Errorf("ParseDialAddress(%q) = %#v, %v", in, a, err)
	}
}

func TestAddressString(t *testing.T) {
	id := ID(mustHex(t, testID))
	tests := []struct {
		a        Address
		str      string
		hostPort string
		ap       string // "" for DNS names
	}{
		{Address{id, "1.2.3.4", 80}, testID + "@1.2.3.4:80", "1.2.3.4:80", "1.2.3.4:80"},
		{Address{id, "2001:db8::1", 443}, testID + "@[2001:db8::1]:443", "[2001:db8::1]:443", "[2001:db8::1]:443"},
		{Address{id, "example.com", 1}, testID + "@example.com:1", "example.com:1", ""},
		{Address{Host: "1.2.3.4", Port: 80}, "1.2.3.4:80", "1.2.3.4:80", "1.2.3.4:80"},
		{Address{Host: "::1", Port: 65535}, "[::1]:65535", "[::1]:65535", "[::1]:65535"},
		// AddrPort unmaps a mapped address that was built by hand.
		{Address{Host: "::ffff:1.2.3.4", Port: 80}, "[::ffff:1.2.3.4]:80", "[::ffff:1.2.3.4]:80", "1.2.3.4:80"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.str {
			t.Errorf("%#v.String() = %q, want %q", tt.a, got, tt.str)
		}
		if got := tt.a.HostPort(); got != tt.hostPort {
			t.Errorf("%#v.HostPort() = %q, want %q", tt.a, got, tt.hostPort)
		}
		ap, ok := tt.a.AddrPort()
		if tt.ap == "" {
			if ok {
				t.Errorf("%#v.AddrPort() = %v, true; want false for a DNS name", tt.a, ap)
			}
		} else if !ok || ap != netip.MustParseAddrPort(tt.ap) {
			t.Errorf("%#v.AddrPort() = %v, %v; want %s", tt.a, ap, ok, tt.ap)
		}
		b, err := tt.a.MarshalText()
		if err != nil || string(b) != tt.str {
			t.Errorf("%#v.MarshalText() = %q, %v", tt.a, b, err)
		}
	}
}

func TestAddressTextRoundTrip(t *testing.T) {
	for _, in := range []string{
		testID + "@1.2.3.4:80",
		testID + "@[2001:db8::1]:443",
		testID + "@example.com:1",
		"example.com:1",
		"[::1]:80",
	} {
		a, err := ParseDialAddress(in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := a.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var got Address
		if err := got.UnmarshalText(b); err != nil || got != a {
			t.Errorf("UnmarshalText(%q) = %#v, %v; want %#v", b, got, err, a)
		}
		if a.IsZero() {
			t.Errorf("%q parsed to the zero Address", in)
		}
	}
	keep := Address{Host: "keep.example", Port: 1}
	got := keep
	if err := got.UnmarshalText([]byte("bad")); err == nil {
		t.Error("UnmarshalText(\"bad\") succeeded")
	}
	if got != keep {
		t.Errorf("failed UnmarshalText changed the Address to %#v", got)
	}
	if !(Address{}).IsZero() {
		t.Error("zero Address is not IsZero")
	}
}

// short truncates s for test failure messages.
func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
