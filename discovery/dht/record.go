package dht

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/peerwire/peerwire/crypto"
)

// Roles is a record's role bits. RoleServer is the DHT's own; the other
// bits are the application's, carried as they are.
type Roles uint8

// RoleServer marks a node that answers DHT queries (server mode).
const RoleServer Roles = 1 << 0

const (
	recordVersion  = 1
	recordSigInput = "peerwire/1 dht record"
	addrTag4       = 4
	addrTag6       = 6
	// recordFixed is a record's bytes besides its addresses: version,
	// public key, sequence number, roles, address count, signature.
	recordFixed = 1 + ed25519.PublicKeySize + 8 + 1 + 1 + ed25519.SignatureSize
)

// ErrBadRecord is returned (wrapped) for a record that does not decode,
// is not in canonical form, or whose signature does not verify.
var ErrBadRecord = errors.New("dht: bad record")

// Record is a node's signed self-record (docs/PROTOCOL.md §10.1). A
// Record is immutable once made; its fields must not be changed.
type Record struct {
	// ID is the node's peer ID, derived from PublicKey.
	ID crypto.ID
	// PublicKey is the node's Ed25519 key, which signed the record.
	PublicKey ed25519.PublicKey
	// Seq orders the node's records: a higher one replaces a lower one.
	Seq uint64
	// Roles are the node's role bits (RoleServer and the application's).
	Roles Roles
	// Addrs are the addresses the node says it listens on, IPs only.
	Addrs []netip.AddrPort
	raw   []byte
}

// Bytes returns the record's signed encoding. The caller must not modify it.
func (r *Record) Bytes() []byte { return r.raw }

// Server reports whether the record claims server mode.
func (r *Record) Server() bool { return r.Roles&RoleServer != 0 }

// NewRecord makes and signs the self-record of key for network (the
// handshake's network ID, which the signature covers so no record is
// valid in another network). addrs must be valid IPs (no zones) with
// nonzero ports, at most MaxRecordAddrs of them.
func NewRecord(key *crypto.Identity, network string, seq uint64, roles Roles, addrs []netip.AddrPort) (*Record, error) {
	if len(network) > 255 {
		return nil, fmt.Errorf("dht: network ID of %d bytes, at most 255", len(network))
	}
	if len(addrs) > MaxRecordAddrs {
		return nil, fmt.Errorf("dht: %d addresses in a record, at most %d", len(addrs), MaxRecordAddrs)
	}
	b := make([]byte, 0, MaxRecordSize)
	b = append(b, recordVersion)
	b = append(b, key.PublicKey()...)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, byte(roles), byte(len(addrs)))
	for _, a := range addrs {
		ip := a.Addr()
		if !ip.IsValid() || ip.Zone() != "" || a.Port() == 0 {
			return nil, fmt.Errorf("dht: address %v in a record: needs an IP without a zone and a port", a)
		}
		ip = ip.Unmap()
		if ip.Is4() {
			b = append(b, addrTag4)
		} else {
			b = append(b, addrTag6)
		}
		b = append(b, ip.AsSlice()...)
		b = binary.BigEndian.AppendUint16(b, a.Port())
	}
	b = append(b, key.Sign(signingInput(network, b))...)
	return DecodeRecord(network, b)
}

// signingInput is what a record's signature covers: a label, the network
// ID and the record's bytes before the signature.
func signingInput(network string, body []byte) []byte {
	in := make([]byte, 0, len(recordSigInput)+1+len(network)+len(body))
	in = append(in, recordSigInput...)
	in = append(in, byte(len(network)))
	in = append(in, network...)
	return append(in, body...)
}

// DecodeRecord decodes and verifies a record received for network. It
// refuses a record over MaxRecordSize, of another version, with trailing
// bytes, an address that is not canonical (an IPv4-mapped IPv6 address,
// an unspecified IP, port 0), a repeated address, or a bad signature.
func DecodeRecord(network string, b []byte) (*Record, error) {
	bad := func(why string) (*Record, error) { return nil, fmt.Errorf("%w: %s", ErrBadRecord, why) }
	if len(b) > MaxRecordSize {
		return bad(fmt.Sprintf("%d bytes, at most %d", len(b), MaxRecordSize))
	}
	if len(b) < recordFixed {
		return bad(fmt.Sprintf("%d bytes, at least %d", len(b), recordFixed))
	}
	if b[0] != recordVersion {
		return bad(fmt.Sprintf("version %d", b[0]))
	}
	pub := ed25519.PublicKey(bytes.Clone(b[1 : 1+ed25519.PublicKeySize]))
	p := 1 + ed25519.PublicKeySize
	seq := binary.BigEndian.Uint64(b[p:])
	p += 8
	roles := Roles(b[p])
	n := int(b[p+1])
	p += 2
	if n > MaxRecordAddrs {
		return bad(fmt.Sprintf("%d addresses, at most %d", n, MaxRecordAddrs))
	}
	addrs := make([]netip.AddrPort, 0, n)
	body := len(b) - ed25519.SignatureSize
	for range n {
		if p >= body {
			return bad("truncated address")
		}
		var l int
		switch b[p] {
		case addrTag4:
			l = 4
		case addrTag6:
			l = 16
		default:
			return bad(fmt.Sprintf("address tag %d", b[p]))
		}
		if p+1+l+2 > body {
			return bad("truncated address")
		}
		ip, _ := netip.AddrFromSlice(b[p+1 : p+1+l])
		port := binary.BigEndian.Uint16(b[p+1+l:])
		p += 1 + l + 2
		if ip.Is4In6() || ip.IsUnspecified() || port == 0 {
			return bad(fmt.Sprintf("address %v:%d not canonical", ip, port))
		}
		a := netip.AddrPortFrom(ip, port)
		for _, o := range addrs {
			if o == a {
				return bad(fmt.Sprintf("address %v twice", a))
			}
		}
		addrs = append(addrs, a)
	}
	if p != body {
		return bad(fmt.Sprintf("%d bytes between the addresses and the signature", body-p))
	}
	if !ed25519.Verify(pub, signingInput(network, b[:body]), b[body:]) {
		return bad("signature does not verify")
	}
	return &Record{ID: crypto.IDFromPublicKey(pub), PublicKey: pub, Seq: seq, Roles: roles, Addrs: addrs, raw: bytes.Clone(b)}, nil
}
