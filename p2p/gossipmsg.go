package p2p

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// Labels bound into gossip IDs and signatures (docs/PROTOCOL.md §9).
const (
	labelGossipID  = "peerwire/1 gossip id"
	labelGossipSig = "peerwire/1 gossip sig"
)

// MessageID identifies a gossip message: SHA-256 over the label, the topic,
// the origin's peer ID, the origin's nonce and the payload. Every node
// computes it from the content; it is never taken from the wire.
type MessageID [32]byte

func (id MessageID) key() msgKey {
	var k msgKey
	copy(k[:], id[:])
	return k
}

// String returns the first 16 hex digits of the ID.
func (id MessageID) String() string { return fmt.Sprintf("%x", id[:8]) }

// gossipID computes the ID of a message.
func gossipID(topic uint8, origin crypto.ID, nonce uint64, payload []byte) MessageID {
	h := sha256.New()
	h.Write([]byte(labelGossipID))
	h.Write([]byte{topic})
	h.Write(origin[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], nonce)
	h.Write(n[:])
	h.Write(payload)
	var id MessageID
	h.Sum(id[:0])
	return id
}

// gossipSigningInput is what an origin signs when its topic requires
// signatures: the label and the message ID, which covers everything but hops.
func gossipSigningInput(id MessageID) []byte {
	return append([]byte(labelGossipSig), id[:]...)
}

var (
	errGossipOrigin    = errors.New("p2p: gossip origin is not a 20-byte peer ID")
	errGossipHops      = errors.New("p2p: gossip hop count out of range")
	errGossipSignature = errors.New("p2p: gossip signature missing or invalid")
)

// checkEnvelope validates an envelope's fields and, when requireSig is set,
// the origin's signature. It returns the computed message ID and origin.
func checkEnvelope(topic uint8, env *pb.GossipEnvelope, maxHops uint32, requireSig bool) (MessageID, crypto.ID, error) {
	origin, err := crypto.IDFromBytes(env.Origin)
	if err != nil {
		return MessageID{}, origin, errGossipOrigin
	}
	if env.Hops == 0 || env.Hops > maxHops {
		return MessageID{}, origin, errGossipHops
	}
	id := gossipID(topic, origin, env.Nonce, env.Payload)
	if requireSig {
		if len(env.OriginKey) != ed25519.PublicKeySize || len(env.Signature) != ed25519.SignatureSize ||
			crypto.IDFromPublicKey(env.OriginKey) != origin ||
			!ed25519.Verify(env.OriginKey, gossipSigningInput(id), env.Signature) {
			return id, origin, errGossipSignature
		}
	}
	return id, origin, nil
}
