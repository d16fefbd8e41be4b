package crypto

// Protocol labels. Each is bound into a hash or KDF so that keys and
// signatures made for one purpose can never be used for another.
const (
	// ProtocolName names the handshake in the transcript and KDF labels.
	ProtocolName = "peerwire/1"

	labelTranscript = ProtocolName + " transcript"
	labelSession    = ProtocolName + " session keys"
	labelRekey      = ProtocolName + " rekey"
	labelAuth       = ProtocolName + " auth"
	labelNetworkTag = ProtocolName + " network"
)

// Sizes, in bytes.
const (
	// KeySize is the size of a ChaCha20-Poly1305 key and of the challenge.
	KeySize = 32
	// TagSize is the size of the Poly1305 authentication tag each frame carries.
	TagSize = 16
	// NonceSize is the AEAD nonce size: 4 zero bytes then a 64-bit little-endian counter.
	NonceSize = 12
	// NetworkTagSize is the size of the network tag sent in the clear in the hello.
	NetworkTagSize = 8
)
