package crypto

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
)

// FuzzParseAddress checks that the address parsers never panic, refuse with
// an *AddressError of bounded size, and that whatever they accept re-parses
// from its String form to the same Address.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		testID + "@1.2.3.4:26656",
		testID + "@[2001:db8::1]:443",
		testID + "@[::ffff:1.2.3.4]:80",
		testID + "@Seed.Example.COM.:26656",
		testID + "@[1.2.3.4]:80",
		"example.com:1",
		"[::1]:65535",
		strings.Repeat("0", 40) + "@1.2.3.4:80",
		testID + "@[fe80::1%eth0]:80",
		testID + "@::1:80",
		testID + "@999.1.1.1:80",
		testID + "@-a.b:1",
		testID + "@a..b:1",
		testID + "@1.2.3.4:65536",
		testID + "@1.2.3.4:0",
		testID + "@:80",
		"@1.2.3.4:80",
		"a@b@c:1",
		"",
		":",
		"[]:0",
		strings.Repeat("a", MaxAddressLen+1),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkAddressError := func(fn string, err error) {
			var ae *AddressError
			if !errors.As(err, &ae) {
				t.Fatalf("%s(%q) error %v is %T, want *AddressError", fn, s, err, err)
			}
			if len(ae.Input) > MaxAddressLen+3 {
				t.Fatalf("%s error echoes %d bytes of input", fn, len(ae.Input))
			}
		}

		a, err := ParseAddress(s)
		if err != nil {
			checkAddressError("ParseAddress", err)
		} else {
			if a.ID.IsZero() || a.Port == 0 || a.Host == "" {
				t.Fatalf("ParseAddress(%q) = %#v: missing a part", s, a)
			}
			again, err := ParseAddress(a.String())
			if err != nil || again != a {
				t.Fatalf("ParseAddress(%q) = %#v; its String %q re-parses to %#v, %v", s, a, a.String(), again, err)
			}
			if d, err := ParseDialAddress(s); err != nil || d != a {
				t.Fatalf("ParseDialAddress(%q) = %#v, %v; ParseAddress gave %#v", s, d, err, a)
			}
		}

		d, err := ParseDialAddress(s)
		if err != nil {
			checkAddressError("ParseDialAddress", err)
			return
		}
		if d.Port == 0 || d.Host == "" || len(d.Host) > 253 {
			t.Fatalf("ParseDialAddress(%q) = %#v: bad part", s, d)
		}
		again, err := ParseDialAddress(d.String())
		if err != nil || again != d {
			t.Fatalf("ParseDialAddress(%q) = %#v; its String %q re-parses to %#v, %v", s, d, d.String(), again, err)
		}
		var viaText Address
		if b, _ := d.MarshalText(); viaText.UnmarshalText(b) != nil || viaText != d {
			t.Fatalf("text round trip of %#v gave %#v", d, viaText)
		}
		host, port, err := net.SplitHostPort(d.HostPort())
		if err != nil || host != d.Host || port == "" {
			t.Fatalf("HostPort %q of %#v does not split back: %q %q %v", d.HostPort(), d, host, port, err)
		}
		if ap, ok := d.AddrPort(); ok {
			if ap.Port() != d.Port || ap.Addr().String() != d.Host || ap.Addr().Zone() != "" || ap.Addr().Is4In6() {
				t.Fatalf("AddrPort of %#v = %v", d, ap)
			}
		} else if d.Host != strings.ToLower(d.Host) || strings.HasSuffix(d.Host, ".") {
			t.Fatalf("DNS host %q is not canonical", d.Host)
		}
	})
}

// FuzzParseKeyFile checks that ParseKeyFile never panics, refuses with a
// *KeyFileError, and that an accepted key survives MarshalKeyFile.
func FuzzParseKeyFile(f *testing.F) {
	valid := MarshalKeyFile(rfc8032Identity(f))
	for _, b := range [][]byte{
		valid,
		bytes.ReplaceAll(valid, []byte("\n"), []byte("\r\n")),
		append([]byte("comment\n"), valid...),
		append(bytes.Clone(valid), valid...),
		append(bytes.Clone(valid), "junk"...),
		valid[:len(valid)/2],
		[]byte("-----BEGIN " + KeyFilePEMType + "-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END " + KeyFilePEMType + "-----\n"),
		[]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		[]byte("-----BEGIN " + KeyFilePEMType + "-----\n-----END " + KeyFilePEMType + "-----\n"),
		nil,
		bytes.Repeat([]byte{' '}, MaxKeyFileSize+1),
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKeyFile("fuzz.key", data)
		if err != nil {
			var kfe *KeyFileError
			if !errors.As(err, &kfe) {
				t.Fatalf("error %v is %T, want *KeyFileError", err, err)
			}
			if k != nil {
				t.Fatal("identity returned with an error")
			}
			return
		}
		if len(data) > MaxKeyFileSize {
			t.Fatalf("accepted %d bytes", len(data))
		}
		out := MarshalKeyFile(k)
		k2, err := ParseKeyFile("fuzz.key", out)
		if err != nil {
			t.Fatalf("MarshalKeyFile output does not parse: %v\n%s", err, out)
		}
		if k2.ID() != k.ID() || !bytes.Equal(k2.Seed(), k.Seed()) {
			t.Fatalf("round trip changed the key: %v -> %v", k.ID(), k2.ID())
		}
		if k.ID() != IDFromPublicKey(k.PublicKey()) {
			t.Fatal("ID does not match the public key")
		}
	})
}
