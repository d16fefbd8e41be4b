package conn

import "time"

// Wire sizes of the secure channel, in bytes. docs/PROTOCOL.md §2–§4.
const (
	// HelloSize is the fixed size of the cleartext hello each side sends first.
	HelloSize = 52
	// frameHeaderSize is the 16-bit big-endian plaintext length before each frame.
	frameHeaderSize = 2
	// MaxFrameCiphertext bounds one frame's ciphertext, tag included (64 KiB).
	MaxFrameCiphertext = 64 << 10
	// maxFramePlaintext is the largest plaintext (type byte + body) of a frame.
	maxFramePlaintext = MaxFrameCiphertext - tagSize
	// MaxFramePayload is how many application bytes one data frame carries:
	// a Write of at most this many bytes is one frame and one syscall.
	MaxFramePayload = maxFramePlaintext - 1
	// MaxAuthSize bounds the auth message, the only other pre-authentication
	// input besides the hello; real ones are a few hundred bytes.
	MaxAuthSize = 4 << 10
	// authInputBuf is the stack buffer for the auth signing input: the
	// label, challenge and role plus a PeerMeta of a few hundred bytes fit
	// (larger ones grow onto the heap), saving an allocation per auth.
	authInputBuf = 768
	// maxFrameSize is header plus the largest ciphertext.
	maxFrameSize = frameHeaderSize + MaxFrameCiphertext
	// ioBufSize is the size of the pooled read and write buffers: two maximal
	// frames, so the reader can read ahead and the writer can send two
	// frames per syscall.
	ioBufSize = 2 * maxFrameSize

	// FrameHeadroom is how many bytes WriteFrame needs in front of the
	// payload in its buffer: the length header and the frame type.
	FrameHeadroom = frameHeaderSize + 1
	// FrameTailroom is how many bytes of capacity WriteFrame needs after
	// the payload: the tag.
	FrameTailroom = tagSize

	tagSize = 16
)

// Frame types: the first plaintext byte of every frame.
const (
	frameData        byte = 0x00
	frameAuth        byte = 0x01
	frameRekey       byte = 0x02
	frameCloseNotify byte = 0x03
)

// Protocol versions this implementation speaks.
const (
	// ProtocolVersion is the version sent in the hello and in PeerMeta.
	ProtocolVersion = 1
	// MinProtocolVersion is the oldest version accepted from a peer.
	MinProtocolVersion = 1
)

// Bounds on PeerMeta fields received from a peer.
const (
	maxMetaString   = 64 // network ID, chain ID, software version
	maxListenAddrs  = 8
	maxListenAddrSz = 300 // one "ID@host:port" (crypto.MaxAddressLen rounded up)
)

// Defaults of SecureConfig, chosen so a validator streaming at line rate
// rekeys every few minutes and no counter ever approaches its limit.
const (
	// DefaultHandshakeTimeout bounds the whole handshake (ARCHITECTURE §2).
	DefaultHandshakeTimeout = 5 * time.Second
	// DefaultRekeyAfterFrames ratchets a direction's key after 2^24 frames
	// (up to 1 TiB at full frames), far below ChaCha20-Poly1305's limits.
	DefaultRekeyAfterFrames = 1 << 24
	// DefaultRekeyAfterBytes ratchets after 16 GiB of plaintext under one key.
	DefaultRekeyAfterBytes = 16 << 30
	// DefaultRekeyAfterTime ratchets a key that has been in use this long,
	// so a key stolen from memory reads at most a few minutes of traffic.
	DefaultRekeyAfterTime = 5 * time.Minute
	// DefaultRejectAfterFrames is the hard limit of frames under one key; the
	// ratchet always comes first unless a test configures otherwise.
	DefaultRejectAfterFrames = 1 << 48
	// DefaultCloseNotifyTimeout bounds how long Close waits to send close-notify.
	DefaultCloseNotifyTimeout = time.Second
)
