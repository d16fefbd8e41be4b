package mdns

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Tag returns the DNS label that stands for networkID in the service name:
// networkID itself when it is already a plain lower-case label (letters,
// digits, inner hyphens) of at most 40 bytes; otherwise up to 40 bytes of
// it with every other character made a hyphen (upper case lowered,
// hyphens collapsed), then a hyphen and the first 12 hex digits of the
// SHA-256 of the whole networkID. The result is at most 53 bytes, so the
// service label "_peerwire-<tag>" fits the 63-byte DNS label limit
// (RFC 1035 §2.3.4); mDNS compares names without case, hence lower case.
// Distinct network IDs give distinct tags (but for a chosen collision with
// the hashed form, which the handshake's network check refuses anyway).
func Tag(networkID string) string {
	if plainLabel(networkID) && len(networkID) <= maxTagPlain {
		return networkID
	}
	var b strings.Builder
	dash := true // no leading hyphen
	for i := 0; i < len(networkID) && b.Len() < maxTagPlain; i++ {
		c := networkID[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		default:
			if dash {
				continue
			}
			c = '-'
		}
		dash = c == '-'
		b.WriteByte(c)
	}
	sum := sha256.Sum256([]byte(networkID))
	s := strings.TrimRight(b.String(), "-")
	if s != "" {
		s += "-"
	}
	return s + hex.EncodeToString(sum[:])[:tagHashHex]
}

// plainLabel reports whether s is a non-empty lower-case DNS label.
func plainLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ServiceName returns the DNS-SD service of networkID:
// "_peerwire-<Tag(networkID)>._tcp".
func ServiceName(networkID string) string {
	return servicePrefix + Tag(networkID) + "._tcp"
}
