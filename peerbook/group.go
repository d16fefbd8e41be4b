package peerbook

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/peerwire/peerwire/crypto"
)

// groupKey names a network group: a kind byte and up to 16 bytes of masked
// address or name hash. It is a value, so computing one does not allocate.
type groupKey [17]byte

const (
	groupLocal = 'l' // bootstrap and manual sources
	groupIPv4  = '4'
	groupIPv6  = '6'
	groupDNS   = 'd' // by the last two labels of the name
	groupPeer  = 'p' // a reporter without a known IP, by its peer ID
)

// groupOf returns the network group of host, an IP literal or a DNS name.
// IPv4 and IPv6 addresses are masked to the configured prefix; IPv4-mapped
// IPv6 addresses count as IPv4. DNS names are grouped by their last two
// labels, a conservative stand-in for the registrable domain (names under
// the same public suffix share a group, which only makes the bound tighter).
func (b *Book) groupOf(host string) groupKey {
	var g groupKey
	if host == "" {
		g[0] = groupLocal
		return g
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return b.groupOfIP(ip)
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		if j := strings.LastIndexByte(name[:i], '.'); j >= 0 {
			name = name[j+1:]
		}
	}
	sum := sha256.Sum256([]byte(name))
	g[0] = groupDNS
	copy(g[1:], sum[:])
	return g
}

func (b *Book) groupOfIP(ip netip.Addr) groupKey {
	var g groupKey
	ip = ip.Unmap().WithZone("")
	bits := b.cfg.IPv6GroupBits
	g[0] = groupIPv6
	if ip.Is4() {
		bits = b.cfg.IPv4GroupBits
		g[0] = groupIPv4
	}
	p, err := ip.Prefix(bits)
	if err != nil { // invalid address: a group of its own kind
		return g
	}
	s := p.Addr().AsSlice()
	copy(g[1:], s)
	return g
}

func peerGroup(id crypto.ID) groupKey {
	var g groupKey
	g[0] = groupPeer
	copy(g[1:], id[:16])
	return g
}

// hash returns a keyed 64-bit hash of the parts, SHA-256 over the book's
// secret, a tag that separates uses, and the parts.
func (b *Book) hash(tag byte, parts ...[]byte) uint64 {
	var buf [128]byte
	n := copy(buf[:], b.secret[:])
	buf[n] = tag
	n++
	for _, p := range parts {
		n += copy(buf[n:], p)
	}
	sum := sha256.Sum256(buf[:n])
	return binary.LittleEndian.Uint64(sum[:8])
}

func u64(v uint64) (b [8]byte) {
	binary.LittleEndian.PutUint64(b[:], v)
	return b
}

// newBucket places an address of group g reported from source group src:
// one source group reaches at most NewBucketsPerSourceGroup buckets, and one
// (group, source group) pair exactly one.
func (b *Book) newBucket(g, src groupKey) int {
	h1 := u64(b.hash('n', g[:], src[:]) % NewBucketsPerSourceGroup)
	return int(b.hash('N', src[:], h1[:]) % uint64(b.cfg.NewBuckets))
}

// triedBucket places a reached address of group g: one group reaches at most
// TriedBucketsPerGroup buckets.
func (b *Book) triedBucket(g groupKey, id crypto.ID) int {
	h1 := u64(b.hash('t', id[:]) % TriedBucketsPerGroup)
	return int(b.hash('T', g[:], h1[:]) % uint64(b.cfg.TriedBuckets))
}

// slotIn returns the slot of id inside bucket of table t.
func (b *Book) slotIn(t table, bucket int, id crypto.ID) int {
	bk := u64(uint64(bucket))
	return int(b.hash('S'+byte(t), bk[:], id[:]) % uint64(b.cfg.BucketSize))
}

// Address classes for routability.
var (
	reservedPrefixes = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),       // "this network", RFC 791
		netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments, RFC 6890
		netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1, RFC 5737
		netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking, RFC 2544
		netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
		netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
		netip.MustParsePrefix("240.0.0.0/4"),     // reserved, RFC 1112
		netip.MustParsePrefix("100::/64"),        // discard-only, RFC 6666
		netip.MustParsePrefix("2001:10::/28"),    // ORCHID, RFC 4843
		netip.MustParsePrefix("2001:20::/28"),    // ORCHIDv2, RFC 7343
		netip.MustParsePrefix("2001:db8::/32"),   // documentation, RFC 3849
	}
	sharedPrefix = netip.MustParsePrefix("100.64.0.0/10") // carrier-grade NAT, RFC 6598
)

// checkIP returns ignoreNone if ip may enter the book under the
// configuration, or why not.
func (b *Book) checkIP(ip netip.Addr) IgnoreReason {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		if b.cfg.AllowLoopback {
			return ignoreNone
		}
		return IgnoreUnroutable
	case ip.IsPrivate() || sharedPrefix.Contains(ip):
		if b.cfg.AllowPrivate {
			return ignoreNone
		}
		return IgnoreUnroutable
	case !ip.IsGlobalUnicast():
		return IgnoreUnroutable
	}
	for _, p := range reservedPrefixes {
		if p.Contains(ip) {
			return IgnoreUnroutable
		}
	}
	return ignoreNone
}

// checkName applies the same rules to DNS names that plainly stay local.
func (b *Book) checkName(name string) IgnoreReason {
	switch {
	case name == "localhost" || strings.HasSuffix(name, ".localhost"):
		if b.cfg.AllowLoopback {
			return ignoreNone
		}
		return IgnoreUnroutable
	case strings.HasSuffix(name, ".local") || strings.HasSuffix(name, ".internal") ||
		strings.HasSuffix(name, ".lan") || strings.HasSuffix(name, ".home.arpa"):
		if b.cfg.AllowPrivate {
			return ignoreNone
		}
		return IgnoreUnroutable
	case strings.HasSuffix(name, ".invalid") || strings.HasSuffix(name, ".test") ||
		strings.HasSuffix(name, ".example") || name == "invalid" || name == "test":
		return IgnoreUnroutable
	}
	return ignoreNone
}
