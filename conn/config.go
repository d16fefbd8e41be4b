package conn

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/proto/pb"
)

// SecureConfig configures the handshake and the EncryptedConn it produces.
// The zero value of every field but Identity and NetworkID means its
// documented default. A SecureConfig may be shared by many concurrent
// handshakes; it is validated once, at first use, and must be neither
// modified nor copied after that.
type SecureConfig struct {
	// Identity is this node's long-term key. Required.
	Identity *crypto.Identity
	// NetworkID names the network (e.g. "mainnet"); peers of other networks
	// are refused. Required, 1–64 bytes.
	NetworkID string
	// ChainID names the chain; peers of other chains are refused. At most 64 bytes.
	ChainID string
	// Meta is what we say about ourselves: role, listen addresses, software
	// version, declared topics. Its network ID, chain ID and protocol version
	// are filled in from the fields above. May be nil.
	Meta *pb.PeerMeta

	// HandshakeTimeout bounds the whole handshake. Default 5 s.
	HandshakeTimeout time.Duration
	// RekeyAfterFrames ratchets our sending key after this many frames.
	// Default 2^24. If it is not below RejectAfterFrames, the connection ends
	// at the hard limit instead of rekeying (useful only in tests).
	RekeyAfterFrames uint64
	// RekeyAfterBytes ratchets our sending key after this much plaintext.
	// Default 16 GiB.
	RekeyAfterBytes uint64
	// RekeyAfterTime ratchets our sending key when it has been in use this
	// long (checked when sending). Default 5 min.
	RekeyAfterTime time.Duration
	// RejectAfterFrames is the hard limit of frames under one key in either
	// direction; at it the connection ends. Default 2^48, minimum 2.
	RejectAfterFrames uint64
	// CloseNotifyTimeout bounds how long Close tries to send close-notify.
	// Default 1 s.
	CloseNotifyTimeout time.Duration

	// Clock supplies the time for rekey timing; nil means the real clock.
	// Socket deadlines always follow the real clock.
	Clock clock.Clock
	// Rand supplies ephemeral keys; nil means crypto/rand. Tests fix it to
	// reproduce the vectors of docs/PROTOCOL.md.
	Rand io.Reader

	// minVersion and maxVersion, when not 0, replace MinProtocolVersion and
	// ProtocolVersion as the range we speak: this package's tests play
	// peers of other versions with them.
	minVersion, maxVersion uint16

	// cache holds the config resolved at first use, so handshakes do not
	// re-validate and re-serialize PeerMeta each time.
	cache atomic.Pointer[resolved]
}

// resolved is a validated SecureConfig with defaults applied and the signed
// parts of our auth message prepared once. It is immutable.
type resolved struct {
	Identity           *crypto.Identity
	NetworkID, ChainID string
	HandshakeTimeout   time.Duration
	RekeyAfterFrames   uint64
	RekeyAfterBytes    uint64
	RekeyAfterTime     time.Duration
	RejectAfterFrames  uint64
	CloseNotifyTimeout time.Duration
	Now                func() time.Time
	Rand               io.Reader

	networkTag [crypto.NetworkTagSize]byte
	metaBytes  []byte
	localMeta  *pb.PeerMeta
	// minVersion and maxVersion are the protocol versions we speak,
	// advertised in the hello (docs/PROTOCOL.md §2).
	minVersion, maxVersion uint16
}

// Validate reports the first invalid field, by name.
func (c *SecureConfig) Validate() error {
	_, err := c.resolve()
	return err
}

func (c *SecureConfig) resolve() (*resolved, error) {
	if c == nil {
		return nil, errors.New("conn: SecureConfig is nil")
	}
	if r := c.cache.Load(); r != nil {
		return r, nil
	}
	r := &resolved{
		Identity: c.Identity, NetworkID: c.NetworkID, ChainID: c.ChainID,
		HandshakeTimeout: c.HandshakeTimeout, RekeyAfterFrames: c.RekeyAfterFrames,
		RekeyAfterBytes: c.RekeyAfterBytes, RekeyAfterTime: c.RekeyAfterTime,
		RejectAfterFrames: c.RejectAfterFrames, CloseNotifyTimeout: c.CloseNotifyTimeout,
		Now: clock.Or(c.Clock).Now, Rand: c.Rand,
		minVersion: cmp.Or(c.minVersion, MinProtocolVersion),
		maxVersion: cmp.Or(c.maxVersion, ProtocolVersion),
	}
	switch {
	case c.Identity == nil:
		return nil, errors.New("conn: SecureConfig.Identity is required")
	case c.NetworkID == "" || len(c.NetworkID) > maxMetaString:
		return nil, fmt.Errorf("conn: SecureConfig.NetworkID must be 1-%d bytes, is %d", maxMetaString, len(c.NetworkID))
	case len(c.ChainID) > maxMetaString:
		return nil, fmt.Errorf("conn: SecureConfig.ChainID must be at most %d bytes, is %d", maxMetaString, len(c.ChainID))
	case c.HandshakeTimeout < 0:
		return nil, fmt.Errorf("conn: SecureConfig.HandshakeTimeout must not be negative, is %v", c.HandshakeTimeout)
	case c.RekeyAfterTime < 0:
		return nil, fmt.Errorf("conn: SecureConfig.RekeyAfterTime must not be negative, is %v", c.RekeyAfterTime)
	case c.CloseNotifyTimeout < 0:
		return nil, fmt.Errorf("conn: SecureConfig.CloseNotifyTimeout must not be negative, is %v", c.CloseNotifyTimeout)
	case c.RejectAfterFrames == 1:
		return nil, errors.New("conn: SecureConfig.RejectAfterFrames must be at least 2 (one data frame and close-notify)")
	}
	r.HandshakeTimeout = cmp.Or(r.HandshakeTimeout, DefaultHandshakeTimeout)
	r.RekeyAfterFrames = cmp.Or(r.RekeyAfterFrames, DefaultRekeyAfterFrames)
	r.RekeyAfterBytes = cmp.Or(r.RekeyAfterBytes, DefaultRekeyAfterBytes)
	r.RekeyAfterTime = cmp.Or(r.RekeyAfterTime, DefaultRekeyAfterTime)
	r.RejectAfterFrames = cmp.Or(r.RejectAfterFrames, DefaultRejectAfterFrames)
	r.CloseNotifyTimeout = cmp.Or(r.CloseNotifyTimeout, DefaultCloseNotifyTimeout)
	meta := &pb.PeerMeta{}
	if c.Meta != nil {
		meta = proto.Clone(c.Meta).(*pb.PeerMeta)
	}
	meta.NetworkId = c.NetworkID
	meta.ChainId = c.ChainID
	meta.ProtocolVersion = uint32(r.maxVersion)
	if err := checkMeta(meta); err != nil {
		return nil, fmt.Errorf("conn: SecureConfig.Meta: %w", err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("conn: SecureConfig.Meta: %w", err)
	}
	// Identity key, signature and framing overhead must fit in MaxAuthSize.
	if len(b) > MaxAuthSize-256 {
		return nil, fmt.Errorf("conn: SecureConfig.Meta is %d bytes serialized, at most %d fit in the auth message", len(b), MaxAuthSize-256)
	}
	r.metaBytes = b
	r.localMeta = meta
	r.networkTag = crypto.NetworkTag(c.NetworkID)
	c.cache.Store(r)
	return r, nil
}

// checkMeta bounds every PeerMeta field; it serves our own config and what
// peers send.
func checkMeta(m *pb.PeerMeta) error {
	if len(m.NetworkId) > maxMetaString || len(m.ChainId) > maxMetaString || len(m.SoftwareVersion) > maxMetaString {
		return fmt.Errorf("network_id, chain_id and software_version must be at most %d bytes", maxMetaString)
	}
	if len(m.ListenAddrs) > maxListenAddrs {
		return fmt.Errorf("listen_addrs has %d entries, at most %d allowed", len(m.ListenAddrs), maxListenAddrs)
	}
	for i, a := range m.ListenAddrs {
		if len(a) > maxListenAddrSz {
			return fmt.Errorf("listen_addrs[%d] is %d bytes, at most %d allowed", i, len(a), maxListenAddrSz)
		}
	}
	prev := -1
	for i, t := range m.Topics {
		if t == 0 || int(t) <= prev {
			return fmt.Errorf("topics[%d] = %d: topic IDs must be 1-255, ascending, without repeats", i, t)
		}
		prev = int(t)
	}
	return nil
}
