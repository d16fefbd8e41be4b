package conn

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// Client runs the handshake as the dialing side over raw and returns the
// EncryptedConn. If expected is not the zero ID, any other identity is
// refused with an *UnexpectedPeerError. One deadline, the earlier of ctx's and
// cfg.HandshakeTimeout, covers the whole handshake. On error raw is closed.
func Client(ctx context.Context, raw net.Conn, cfg *SecureConfig, expected crypto.ID) (*EncryptedConn, error) {
	return handshake(ctx, raw, cfg, crypto.RoleDialer, expected)
}

// Server runs the handshake as the accepting side over raw. On error raw is
// closed.
func Server(ctx context.Context, raw net.Conn, cfg *SecureConfig) (*EncryptedConn, error) {
	return handshake(ctx, raw, cfg, crypto.RoleAcceptor, crypto.ID{})
}

func handshake(ctx context.Context, raw net.Conn, cfg *SecureConfig, role crypto.Role, expected crypto.ID) (*EncryptedConn, error) {
	reserveStack(0)
	if onStackMoved != nil {
		var here byte
		at := uintptr(unsafe.Pointer(&here))
		defer func() {
			if uintptr(unsafe.Pointer(&here)) != at {
				onStackMoved()
			}
		}()
	}
	r, err := cfg.resolve()
	if err != nil {
		raw.Close()
		return nil, err
	}
	// Socket deadlines follow the real clock; Now only drives rekey timing.
	deadline := time.Now().Add(r.HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := raw.SetDeadline(deadline); err != nil {
		raw.Close()
		return nil, err
	}
	// A context that can never end (Background) needs no watcher.
	var fired chan struct{}
	stop := func() bool { return true }
	if ctx.Done() != nil {
		fired = make(chan struct{})
		stop = context.AfterFunc(ctx, func() {
			_ = raw.SetDeadline(time.Unix(1, 0))
			close(fired)
		})
	}
	sb := getScratch()
	h := handshaker{raw: raw, cfg: r, role: role, expected: expected, stage: "hello", scratch: sb, in: sb[scratchIn:]}
	c, err := h.run()
	putScratch(sb)
	if !stop() {
		// ctx ended meanwhile: let its deadline land before ours, and
		// leave no goroutine behind once the handshake has returned.
		<-fired
	}
	if err == nil {
		err = raw.SetDeadline(time.Time{})
	}
	if err != nil {
		raw.Close()
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("conn: handshake: %w", ctx.Err())
		case isTimeout(err):
			return nil, &HandshakeTimeoutError{After: r.HandshakeTimeout, Stage: h.stage}
		}
		return nil, err
	}
	return c, nil
}

// handshakeStack is how much stack a handshake uses below handshake's
// own frame, with a margin: Ed25519 verification, the deepest part, takes
// ~5 KiB.
const handshakeStack = 8 << 10

// reserveStack makes the calling goroutine's stack fit handshakeStack more
// bytes, growing it once and at once, while it is shallow. A goroutine
// starts with 2 KiB (p2p runs each accepted connection's handshake on a
// new one, as hs.Run runs the server's); left to grow on demand, the stack
// was copied as it doubled, the last time deep inside Ed25519
// verification, each copy walking every frame on it: runtime.newstack
// took 2-5% of the handshake's CPU in BenchmarkHandshake's profiles.
// Indexing b with i, which the compiler cannot know, keeps the array and
// so the frame.
//
//go:noinline
func reserveStack(i int) byte {
	var b [handshakeStack]byte
	return b[i]
}

// onStackMoved, when not nil, is called when the goroutine's stack moved
// during a handshake, after reserveStack (tests only).
var onStackMoved func()

// handshaker holds one handshake's state.
type handshaker struct {
	raw      net.Conn
	cfg      *resolved
	role     crypto.Role
	expected crypto.ID
	stage    string // for timeout errors

	// scratch holds our hello and auth frame; in (scratch's tail, or a
	// larger buffer for a large auth frame) takes what the peer sends:
	// in[pos:have] is read and not yet consumed.
	scratch   *[scratchSize]byte
	in        []byte
	pos, have int
}

// next returns the next n bytes from the peer, reading as many as one
// syscall brings (at least what is missing) into h.in, so that the hello
// and the auth frame arriving together are one read. The bytes are valid
// until the next call.
func (h *handshaker) next(n int) ([]byte, error) {
	if h.have-h.pos < n {
		switch {
		case n > len(h.in):
			in := make([]byte, n)
			h.have = copy(in, h.in[h.pos:h.have])
			h.in, h.pos = in, 0
		case h.pos+n > len(h.in):
			h.have = copy(h.in, h.in[h.pos:h.have])
			h.pos = 0
		}
		got, err := io.ReadAtLeast(h.raw, h.in[h.have:], n-(h.have-h.pos))
		h.have += got
		if err != nil {
			return nil, err
		}
	}
	b := h.in[h.pos : h.pos+n]
	h.pos += n
	return b, nil
}

func (h *handshaker) run() (*EncryptedConn, error) {
	rnd := h.cfg.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var eph [32]byte // the ephemeral private key
	if _, err := io.ReadFull(rnd, eph[:]); err != nil {
		return nil, fmt.Errorf("conn: ephemeral key: %w", err)
	}
	defer clear(eph[:])
	local := hello{version: h.cfg.maxVersion, minVersion: h.cfg.minVersion, networkTag: h.cfg.networkTag}
	local.ephemeral = crypto.X25519PublicKey(&eph)
	localBytes := appendHello(h.scratch[:0:HelloSize], &local)

	// Both sides send their hello at once; it fits any socket buffer.
	if _, err := h.raw.Write(localBytes); err != nil {
		return nil, err
	}
	remoteBytes, err := h.next(HelloSize)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: connection closed during hello", ErrNotPeerwire)
		}
		return nil, err
	}
	remote, err := parseHello(remoteBytes)
	if err != nil {
		return nil, err
	}
	peerLo, peerHi := remote.speaks()
	version, ok := negotiateVersion(h.cfg.minVersion, h.cfg.maxVersion, peerLo, peerHi)
	if !ok {
		return nil, &IncompatibleError{Field: "protocol_version", Local: versionRange(h.cfg.minVersion, h.cfg.maxVersion), Remote: versionRange(peerLo, peerHi)}
	}
	if remote.networkTag != local.networkTag {
		return nil, &IncompatibleError{Field: "network_id", Local: h.cfg.NetworkID, Remote: fmt.Sprintf("(tag %x)", remote.networkTag)}
	}
	if remote.ephemeral == local.ephemeral {
		return nil, ErrReflection
	}
	shared, err := crypto.X25519(&eph, &remote.ephemeral)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err) // low-order point: all-zero output
	}
	th := crypto.Transcript(h.cfg.NetworkID, localBytes, local.ephemeral[:], remoteBytes, remote.ephemeral[:])
	keys, err := crypto.DeriveSessionKeys(shared[:], th)
	clear(shared[:])
	if err != nil {
		return nil, err
	}
	send, recv := keys.LowKey, keys.HighKey
	if bytes.Compare(local.ephemeral[:], remote.ephemeral[:]) > 0 {
		send, recv = recv, send
	}
	c := newEncryptedConn(h.raw, h.cfg, h.role == crypto.RoleDialer, send, recv)
	c.version = version
	clear(keys.LowKey[:])
	clear(keys.HighKey[:])

	h.stage = "auth"
	if err := h.sendAuth(c, keys.Challenge); err != nil {
		return nil, err
	}
	if err := h.receiveAuth(c, keys.Challenge); err != nil {
		return nil, err
	}
	h.handOff(c)
	// The hellos are bound into the keys, so the version the peer signed
	// cannot differ from its hello's unless it is broken.
	if v := c.remoteMeta.ProtocolVersion; v != uint32(remote.version) {
		return nil, protocolErrorf("PeerMeta protocol_version %d differs from the hello's %d", v, remote.version)
	}
	return c, nil
}

// Version returns the protocol version negotiated with the peer: the
// highest that both hellos say their senders speak (docs/PROTOCOL.md §2).
func (c *EncryptedConn) Version() uint16 { return c.version }

func (h *handshaker) authReadError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return authErrorf("connection closed before the peer's auth")
	}
	return err
}

// handOff gives c's read buffer the bytes the peer sent after its auth
// frame (its first frames, when it finished first), which came in the
// same read as the frame.
func (h *handshaker) handOff(c *EncryptedConn) {
	if rest := h.in[h.pos:h.have]; len(rest) > 0 {
		c.rd.buf = getIOBuf()
		n := copy(*c.rd.buf, rest)
		c.rd.start, c.rd.end, c.rd.high = 0, n, n
	}
	h.pos, h.have = 0, 0
}

// sendAuth signs the challenge, our role and our PeerMeta and sends the auth
// message as the first encrypted frame.
func (h *handshaker) sendAuth(c *EncryptedConn, challenge [crypto.KeySize]byte) error {
	id := h.cfg.Identity
	var in [authInputBuf]byte
	sig := id.Sign(crypto.AuthSigningInput(in[:0], challenge, h.role, h.cfg.metaBytes))
	auth := &pb.Auth{
		IdentityKey: id.PublicKey(),
		Meta:        h.cfg.metaBytes,
		Signature:   sig,
	}
	// Marshalled straight into the frame and sealed there: one buffer.
	opts := proto.MarshalOptions{Deterministic: true}
	size := FrameHeadroom + opts.Size(auth) + FrameTailroom
	var frame []byte
	if size <= scratchAuthOut {
		frame = h.scratch[scratchOut : scratchOut+FrameHeadroom : scratchOut+scratchAuthOut]
	} else {
		frame = make([]byte, FrameHeadroom, size)
	}
	frame, err := opts.MarshalAppend(frame, auth)
	if err != nil {
		return fmt.Errorf("conn: encoding auth: %w", err)
	}
	frame, err = c.sealInPlace(frame, frameAuth)
	if err != nil {
		return err
	}
	_, err = h.raw.Write(frame)
	return err
}

// receiveAuth reads the peer's auth frame and checks, in order: the frame
// authenticates, the signature verifies for the peer's role, the identity is
// not ours, it is the one expected, and the PeerMeta is compatible. The frame
// is read into the handshake's scratch buffer, usually in the read that
// brought its first bytes; a frame too large for it gets a buffer of its
// size, after its length is checked against MaxAuthSize, so a stalled
// stranger holds at most the scratch buffer and no pooled frame buffer.
func (h *handshaker) receiveAuth(c *EncryptedConn, challenge [crypto.KeySize]byte) error {
	hdr, err := h.next(frameHeaderSize)
	if err != nil {
		return h.authReadError(err)
	}
	plainLen := int(binary.BigEndian.Uint16(hdr))
	if plainLen < 1 || plainLen > 1+MaxAuthSize {
		return protocolErrorf("auth frame length %d outside 1-%d", plainLen, 1+MaxAuthSize)
	}
	var ad [frameHeaderSize]byte
	copy(ad[:], hdr) // next may move the bytes
	ct, err := h.next(plainLen + tagSize)
	if err != nil {
		return h.authReadError(err)
	}
	plain, err := c.rd.cs.Open(ct[:0], ct, ad[:])
	if err != nil {
		return authErrorf("auth frame failed authentication (keys differ: man in the middle or corrupted hello)")
	}
	if plain[0] != frameAuth {
		return protocolErrorf("first frame has type 0x%02x, want auth", plain[0])
	}
	id, pub, meta, err := verifyAuth(plain[1:], challenge, h.role.Opposite(), h.cfg, h.expected)
	if err != nil {
		return err
	}
	c.remoteID, c.remoteKey, c.remoteMeta = id, pub, meta
	return nil
}

// verifyAuth decodes and checks a peer's auth message (docs/PROTOCOL.md §5)
// signed for peerRole. It never panics on any input.
func verifyAuth(body []byte, challenge [crypto.KeySize]byte, peerRole crypto.Role, cfg *resolved, expected crypto.ID) (crypto.ID, ed25519.PublicKey, *pb.PeerMeta, error) {
	var none crypto.ID
	var auth pb.Auth
	if err := proto.Unmarshal(body, &auth); err != nil {
		return none, nil, nil, authErrorf("malformed auth message: %v", err)
	}
	if len(auth.IdentityKey) != ed25519.PublicKeySize || len(auth.Signature) != ed25519.SignatureSize {
		return none, nil, nil, authErrorf("identity key or signature has the wrong length")
	}
	var in [authInputBuf]byte
	input := crypto.AuthSigningInput(in[:0], challenge, peerRole, auth.Meta)
	if !ed25519.Verify(auth.IdentityKey, input, auth.Signature) {
		return none, nil, nil, authErrorf("bad identity signature")
	}
	pub := ed25519.PublicKey(auth.IdentityKey)
	id := crypto.IDFromPublicKey(pub)
	if id == cfg.Identity.ID() {
		return none, nil, nil, ErrSelfConnection
	}
	if !expected.IsZero() && id != expected {
		return none, nil, nil, &UnexpectedPeerError{Expected: expected, Got: id}
	}
	var meta pb.PeerMeta
	if err := proto.Unmarshal(auth.Meta, &meta); err != nil {
		return none, nil, nil, protocolErrorf("malformed PeerMeta: %v", err)
	}
	if err := checkMeta(&meta); err != nil {
		return none, nil, nil, protocolErrorf("PeerMeta: %v", err)
	}
	switch {
	case meta.NetworkId != cfg.NetworkID:
		return none, nil, nil, &IncompatibleError{Field: "network_id", Local: cfg.NetworkID, Remote: meta.NetworkId}
	case meta.ChainId != cfg.ChainID:
		return none, nil, nil, &IncompatibleError{Field: "chain_id", Local: cfg.ChainID, Remote: meta.ChainId}
	}
	return id, pub, &meta, nil
}
