package p2p

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// Labels bound into gossip IDs and signatures (docs/PROTOCOL.md §9).
const (
	labelGossipID  = "peerwire/1 gossip id"
	labelGossipSig = "peerwire/1 gossip sig"
)

// MessageID identifies a gossip message: SHA-256 over the label, the topic,
// the origin's peer ID, the origin's nonce, the origin's timestamp and the
// payload. Every node computes it from the content; it is never taken from
// the wire.
type MessageID [32]byte

func (id MessageID) key() msgKey {
	var k msgKey
	copy(k[:], id[:])
	return k
}

// String returns the first 16 hex digits of the ID.
func (id MessageID) String() string { return fmt.Sprintf("%x", id[:8]) }

// gossipID computes the ID of a message.
func gossipID(topic uint8, origin crypto.ID, nonce, timeMs uint64, payload []byte) MessageID {
	h := sha256.New()
	h.Write([]byte(labelGossipID))
	h.Write([]byte{topic})
	h.Write(origin[:])
	var n [16]byte
	binary.BigEndian.PutUint64(n[:8], nonce)
	binary.BigEndian.PutUint64(n[8:], timeMs)
	h.Write(n[:])
	h.Write(payload)
	var id MessageID
	h.Sum(id[:0])
	return id
}

// gossipSigningInput is what an origin signs: the label and the message ID,
// which covers everything but hops (the timestamp included).
func gossipSigningInput(id MessageID) []byte {
	return append([]byte(labelGossipSig), id[:]...)
}

var (
	errGossipOrigin    = errors.New("p2p: gossip origin is not a 20-byte peer ID")
	errGossipHops      = errors.New("p2p: gossip hop count out of range")
	errGossipSignature = errors.New("p2p: gossip signature missing or invalid")
	errGossipStale     = errors.New("p2p: gossip message older than the maximum age")
	errGossipFuture    = errors.New("p2p: gossip message timestamped beyond the allowed clock skew")
)

// checkEnvelope validates an envelope's fields. It returns the computed
// message ID and origin. The signature is checked apart (verifyOrigin), so
// a duplicate costs no verification.
func checkEnvelope(topic uint8, env *pb.GossipEnvelope, maxHops uint32) (MessageID, crypto.ID, error) {
	origin, err := crypto.IDFromBytes(env.Origin)
	if err != nil {
		return MessageID{}, origin, errGossipOrigin
	}
	if env.Hops == 0 || env.Hops > maxHops {
		return MessageID{}, origin, errGossipHops
	}
	return gossipID(topic, origin, env.Nonce, env.TimeMs, env.Payload), origin, nil
}

// verifyOrigin checks the origin's signature over id. An envelope carrying
// a key or a signature must carry a valid pair whatever the topic; one
// carrying neither passes only when required is false. It reports whether
// the origin was verified.
func verifyOrigin(env *pb.GossipEnvelope, id MessageID, origin crypto.ID, required bool) (bool, error) {
	if len(env.OriginKey) == 0 && len(env.Signature) == 0 {
		if required {
			return false, errGossipSignature
		}
		return false, nil
	}
	if len(env.OriginKey) != ed25519.PublicKeySize || len(env.Signature) != ed25519.SignatureSize ||
		crypto.IDFromPublicKey(env.OriginKey) != origin ||
		!ed25519.Verify(env.OriginKey, gossipSigningInput(id), env.Signature) {
		return false, errGossipSignature
	}
	return true, nil
}

// checkGossipTime accepts an origin timestamp (ms since the Unix epoch) no
// older than maxAge and no further ahead than maxSkew, by the clock now.
func checkGossipTime(timeMs uint64, now time.Time, maxAge, maxSkew time.Duration) error {
	nowMs := now.UnixMilli()
	if timeMs > math.MaxInt64 || int64(timeMs) > nowMs+maxSkew.Milliseconds() {
		return errGossipFuture
	}
	if int64(timeMs) < nowMs-maxAge.Milliseconds() {
		return errGossipStale
	}
	return nil
}
