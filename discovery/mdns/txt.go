package mdns

import (
	"errors"
	"fmt"
	"strings"

	"github.com/peerwire/peerwire/crypto"
)

// ErrRecord is wrapped by every error Decode and ParseTXT return: an
// answer that is not a well-formed peerwire record.
var ErrRecord = errors.New("mdns: malformed record")

func recordErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRecord, fmt.Sprintf(format, args...))
}

// EncodeTXT returns the TXT strings announcing addrs: one "ID@host:port"
// each, in order. Every address must carry the same non-zero ID and fit
// one TXT string (MaxTXTString bytes); at most MaxTXTAddrs are allowed.
func EncodeTXT(addrs []crypto.Address) ([]string, error) {
	if len(addrs) == 0 {
		return nil, errors.New("mdns: no address to announce")
	}
	if len(addrs) > MaxTXTAddrs {
		return nil, fmt.Errorf("mdns: %d addresses to announce, at most %d", len(addrs), MaxTXTAddrs)
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		if a.ID.IsZero() || a.ID != addrs[0].ID {
			return nil, fmt.Errorf("mdns: address %q: every address must carry the node's ID", a.String())
		}
		s := a.String()
		if len(s) > MaxTXTString {
			return nil, fmt.Errorf("mdns: address %q is longer than a TXT string (%d bytes)", s, MaxTXTString)
		}
		out[i] = s
	}
	return out, nil
}

// ParseTXT decodes the TXT strings of an answer: 1 to MaxTXTAddrs strings,
// each "ID@host:port" as crypto.ParseAddress reads it (a 40-hex-digit
// non-zero ID, an IP or DNS host, a port in 1-65535), all with one ID.
// Repeated addresses are returned once. The addresses are in canonical
// form. Whether a host may be used (a DNS name from the network, a
// loopback or reserved IP, a filtered or banned one) is not its concern:
// the peer book decides (peerbook.SourceLocal).
func ParseTXT(fields []string) ([]crypto.Address, error) {
	if len(fields) == 0 {
		return nil, recordErr("no TXT strings")
	}
	if len(fields) > MaxTXTAddrs {
		return nil, recordErr("%d TXT strings, at most %d", len(fields), MaxTXTAddrs)
	}
	out := make([]crypto.Address, 0, len(fields))
	for i, f := range fields {
		if len(f) > MaxTXTString {
			return nil, recordErr("TXT string %d is %d bytes, at most %d", i+1, len(f), MaxTXTString)
		}
		a, err := crypto.ParseAddress(f)
		if err != nil {
			return nil, recordErr("TXT string %d: %v", i+1, err)
		}
		if len(out) > 0 && a.ID != out[0].ID {
			return nil, recordErr("TXT string %d names ID %s, string 1 %s", i+1, a.ID.Short(), out[0].ID.Short())
		}
		dup := false
		for _, b := range out {
			dup = dup || b == a
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out, nil
}

// Decode checks one answer to a query for service (ServiceName's form):
// its instance name must be "<ID in hex>.<service>.local." (any case,
// final dot optional) and its TXT strings (ParseTXT) must all carry that
// ID. It returns the addresses. Decode is what the Service applies to
// every answer; anything it refuses is counted (Stats.Malformed) and
// dropped.
func Decode(service, name string, txt []string) ([]crypto.Address, error) {
	if len(name) > 255 {
		return nil, recordErr("name of %d bytes", len(name))
	}
	lname := strings.TrimSuffix(strings.ToLower(name), ".")
	suffix := "." + strings.ToLower(strings.Trim(service, ".")) + "." + domain
	instance, ok := strings.CutSuffix(lname, suffix)
	if !ok {
		return nil, recordErr("name %q is not an instance of %s.%s", name, service, domain)
	}
	id, err := crypto.ParseID(instance)
	if err != nil || id.IsZero() {
		return nil, recordErr("instance %q is not a peer ID", instance)
	}
	addrs, err := ParseTXT(txt)
	if err != nil {
		return nil, err
	}
	if addrs[0].ID != id {
		return nil, recordErr("instance %s carries addresses of %s", id.Short(), addrs[0].ID.Short())
	}
	return addrs, nil
}
