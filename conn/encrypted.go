package conn

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// EncryptedConn is an authenticated, encrypted connection: a net.Conn whose
// bytes travel in ChaCha20-Poly1305 frames (docs/PROTOCOL.md §4). It is made
// by Client or Server.
//
// One goroutine may Read while another Writes; concurrent Writes are
// serialised, as are concurrent Reads. Close may be called at any time from
// any goroutine, more than once. Steady-state Read and Write do not allocate.
type EncryptedConn struct {
	raw    net.Conn
	cfg    *resolved
	client bool

	remoteID   crypto.ID
	remoteKey  ed25519.PublicKey
	remoteMeta *pb.PeerMeta
	version    uint16 // negotiated protocol version (handshake.go)

	wr struct {
		// sem is the write lock: a channel so that Close can wait for it
		// with a deadline. It guards the fields below.
		sem     chan struct{}
		cs      *crypto.CipherState
		keyTime time.Time // when cs's key was installed
		keyUsed uint64    // plaintext bytes sealed under cs's key
		err     error     // sticky: once set, every Write returns it
		rekeys  uint64
	}

	rd struct {
		sync.Mutex // guards the fields below
		cs         *crypto.CipherState
		hdr        [frameHeaderSize]byte // header of the next frame while idle
		buf        *[]byte               // pooled; nil while idle
		start, end int                   // unparsed ciphertext in buf[start:end]
		high       int                   // bytes of buf used since it was taken
		plain      []byte                // decrypted, not yet returned, inside buf
		err        error                 // sticky
		rekeys     uint64
	}

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error
}

func newEncryptedConn(raw net.Conn, cfg *resolved, client bool, send, recv [crypto.KeySize]byte) *EncryptedConn {
	c := &EncryptedConn{raw: raw, cfg: cfg, client: client}
	c.wr.sem = make(chan struct{}, 1)
	c.wr.cs = crypto.NewCipherState(send, cfg.RejectAfterFrames)
	c.wr.keyTime = cfg.Now()
	c.rd.cs = crypto.NewCipherState(recv, cfg.RejectAfterFrames)
	return c
}

// RemoteID returns the peer's verified identity.
func (c *EncryptedConn) RemoteID() crypto.ID { return c.remoteID }

// RemotePublicKey returns the peer's verified Ed25519 public key.
func (c *EncryptedConn) RemotePublicKey() ed25519.PublicKey { return c.remoteKey }

// RemoteMeta returns what the peer said about itself in the handshake. The
// caller must not modify it.
func (c *EncryptedConn) RemoteMeta() *pb.PeerMeta { return c.remoteMeta }

// LocalMeta returns what we said about ourselves. The caller must not modify it.
func (c *EncryptedConn) LocalMeta() *pb.PeerMeta { return c.cfg.localMeta }

// LocalID returns our own identity's peer ID.
func (c *EncryptedConn) LocalID() crypto.ID { return c.cfg.Identity.ID() }

// IsClient reports whether we dialed this connection.
func (c *EncryptedConn) IsClient() bool { return c.client }

// NetConn returns the underlying connection, e.g. to set socket options.
// Reading or writing it directly breaks the EncryptedConn.
func (c *EncryptedConn) NetConn() net.Conn { return c.raw }

// LocalAddr returns the local network address.
func (c *EncryptedConn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr returns the remote network address.
func (c *EncryptedConn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline sets the read and write deadlines of the underlying connection.
func (c *EncryptedConn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline sets the read deadline of the underlying connection.
func (c *EncryptedConn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline of the underlying connection.
func (c *EncryptedConn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

// Rekeys returns how many times each direction's key has been ratcheted.
func (c *EncryptedConn) Rekeys() (sent, received uint64) {
	c.wr.sem <- struct{}{}
	sent = c.wr.rekeys
	<-c.wr.sem
	c.rd.Lock()
	received = c.rd.rekeys
	c.rd.Unlock()
	return sent, received
}

// Write encrypts p into frames of at most MaxFramePayload bytes and sends
// them. A write of up to MaxFramePayload bytes is one frame and one syscall;
// larger writes send two frames per syscall.
func (c *EncryptedConn) Write(p []byte) (int, error) {
	c.wr.sem <- struct{}{}
	defer func() { <-c.wr.sem }()
	if c.wr.err != nil {
		return 0, c.wr.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	bp := getIOBuf()
	buf := (*bp)[:0]
	high := 0
	written := 0
	var err error
	for len(p) > 0 && err == nil {
		chunk := min(len(p), MaxFramePayload)
		if len(buf)+frameHeaderSize+1+chunk+tagSize > cap(buf) {
			high = max(high, len(buf))
			if _, err = c.raw.Write(buf); err != nil {
				break
			}
			buf = buf[:0]
		}
		if buf, err = c.sealRekeyIfDue(buf, chunk); err != nil {
			break
		}
		if buf, err = c.sealFrame(buf, frameData, p[:chunk]); err != nil {
			break
		}
		p = p[chunk:]
		written += chunk
	}
	high = max(high, len(buf))
	exhausted := errors.Is(err, crypto.ErrNonceExhausted)
	if (err == nil || exhausted) && len(buf) > 0 {
		// Frames already sealed must go out before anything sealed later.
		if _, werr := c.raw.Write(buf); werr != nil {
			err, exhausted = werr, false
		}
	}
	putIOBuf(bp, high)
	if exhausted {
		c.exhausted()
		return written, c.wr.err
	}
	if err != nil {
		c.wr.err = c.wrapIOError(err)
		return 0, c.wr.err
	}
	return written, nil
}

// WriteFrame sends p[FrameHeadroom:] as one data frame, sealing it in p
// itself, so the payload is not copied into a buffer of the connection's:
// the caller leaves FrameHeadroom bytes in front of the payload (their
// contents do not matter) and FrameTailroom bytes of capacity after it,
// and the payload is at most MaxFramePayload bytes. p's bytes are
// overwritten with the sealed frame. It returns the payload bytes written,
// and its errors are Write's. It is one syscall, two when a rekey frame
// is due first.
func (c *EncryptedConn) WriteFrame(p []byte) (int, error) {
	body := len(p) - FrameHeadroom
	if body < 0 || body > MaxFramePayload || cap(p)-len(p) < FrameTailroom {
		return 0, fmt.Errorf("conn: WriteFrame of %d bytes with %d bytes of capacity after them: want %d-%d bytes and %d more capacity",
			len(p), cap(p)-len(p), FrameHeadroom, FrameHeadroom+MaxFramePayload, FrameTailroom)
	}
	c.wr.sem <- struct{}{}
	defer func() { <-c.wr.sem }()
	if c.wr.err != nil {
		return 0, c.wr.err
	}
	if body == 0 {
		return 0, nil
	}
	// A rekey frame, when due (rarely), goes in a buffer of its own.
	pre, err := c.sealRekeyIfDue(nil, body)
	if err == nil && len(pre) > 0 {
		_, err = c.raw.Write(pre)
	}
	if err == nil {
		var frame []byte
		if frame, err = c.sealInPlace(p, frameData); err == nil {
			_, err = c.raw.Write(frame)
		}
	}
	switch {
	case errors.Is(err, crypto.ErrNonceExhausted):
		c.exhausted()
		return 0, c.wr.err
	case err != nil:
		c.wr.err = c.wrapIOError(err)
		return 0, c.wr.err
	}
	return body, nil
}

// sealInPlace seals p[frameHeaderSize+1:] as one frame of type typ within
// p, whose capacity has room for the tag, and returns the frame. The
// caller holds the write lock.
func (c *EncryptedConn) sealInPlace(p []byte, typ byte) ([]byte, error) {
	binary.BigEndian.PutUint16(p, uint16(len(p)-frameHeaderSize))
	p[frameHeaderSize] = typ
	out, err := c.wr.cs.Seal(p[:frameHeaderSize], p[frameHeaderSize:], p[:frameHeaderSize])
	if err != nil {
		return nil, err
	}
	c.wr.keyUsed += uint64(len(p) - FrameHeadroom)
	return out, nil
}

// sealRekeyIfDue appends a rekey frame and ratchets the sending key when a
// soft limit is reached, and reports ErrNonceExhausted when the hard limit
// leaves no room for another data frame (one nonce stays reserved for
// close-notify). The caller holds the write lock.
func (c *EncryptedConn) sealRekeyIfDue(buf []byte, next int) ([]byte, error) {
	cs := c.wr.cs
	if cs.Remaining() < 2 {
		return buf, crypto.ErrNonceExhausted
	}
	due := cs.Count() >= c.cfg.RekeyAfterFrames ||
		c.wr.keyUsed+uint64(next) > c.cfg.RekeyAfterBytes ||
		c.cfg.Now().Sub(c.wr.keyTime) >= c.cfg.RekeyAfterTime
	if !due {
		return buf, nil
	}
	buf, err := c.sealFrame(buf, frameRekey, nil)
	if err != nil {
		return buf, err
	}
	cs.Ratchet()
	c.wr.keyTime = c.cfg.Now()
	c.wr.keyUsed = 0
	c.wr.rekeys++
	return buf, nil
}

// sealFrame appends one frame of type typ carrying body to buf. The caller
// holds the write lock and has made sure buf has room.
func (c *EncryptedConn) sealFrame(buf []byte, typ byte, body []byte) ([]byte, error) {
	start := len(buf)
	plainLen := 1 + len(body)
	buf = binary.BigEndian.AppendUint16(buf, uint16(plainLen))
	buf = append(buf, typ)
	buf = append(buf, body...)
	out, err := c.wr.cs.Seal(buf[:start+frameHeaderSize], buf[start+frameHeaderSize:], buf[start:start+frameHeaderSize])
	if err != nil {
		return buf[:start], err
	}
	c.wr.keyUsed += uint64(len(body))
	return out, nil
}

// exhausted ends the connection at the hard nonce limit: close-notify goes
// out under the reserved last nonce, then the socket closes. The caller
// holds the write lock.
func (c *EncryptedConn) exhausted() {
	c.wr.err = ErrNonceExhausted
	c.sendCloseNotifyLocked()
	_ = c.closeRaw()
}

// sendCloseNotifyLocked sends close-notify once; the caller holds the write lock.
func (c *EncryptedConn) sendCloseNotifyLocked() {
	var frame [frameHeaderSize + 1 + tagSize]byte
	buf, err := c.sealFrame(frame[:0], frameCloseNotify, nil)
	if err != nil {
		return
	}
	_ = c.raw.SetWriteDeadline(time.Now().Add(c.cfg.CloseNotifyTimeout))
	_, _ = c.raw.Write(buf)
}

// wrapIOError turns a deadline error into os.ErrDeadlineExceeded-compatible
// form and a closed-socket error into ErrClosed.
func (c *EncryptedConn) wrapIOError(err error) error {
	if c.closed.Load() || errors.Is(err, net.ErrClosed) {
		return ErrClosed
	}
	return err
}

// Read decrypts the next bytes from the peer into p. It returns io.EOF after
// the peer's close-notify, ErrTruncated if the stream ends without one, an
// error matching ErrAuthFailed if a frame fails authentication, and one
// matching ErrProtocol if an authentic frame breaks the frame rules (an
// unknown type, a rekey or close-notify frame with a body); in the failure
// cases no byte of the bad frame is returned.
func (c *EncryptedConn) Read(p []byte) (int, error) {
	c.rd.Lock()
	defer c.rd.Unlock()
	for len(c.rd.plain) == 0 {
		if c.rd.err != nil {
			return 0, c.rd.err
		}
		typ, body, err := c.readFrame(maxFramePlaintext)
		if err != nil {
			c.failRead(err)
			return 0, c.rd.err
		}
		switch typ {
		case frameData:
			c.rd.plain = body
		case frameRekey:
			if len(body) != 0 {
				c.failRead(protocolErrorf("rekey frame with %d-byte body", len(body)))
				return 0, c.rd.err
			}
			c.rd.cs.Ratchet()
			c.rd.rekeys++
		case frameCloseNotify:
			if len(body) != 0 {
				c.failRead(protocolErrorf("close-notify frame with %d-byte body", len(body)))
				return 0, c.rd.err
			}
			c.rd.err = io.EOF
			c.releaseReadBuf()
			return 0, io.EOF
		default:
			c.failRead(protocolErrorf("unexpected frame type 0x%02x", typ))
			return 0, c.rd.err
		}
	}
	n := copy(p, c.rd.plain)
	c.rd.plain = c.rd.plain[n:]
	if len(c.rd.plain) == 0 && c.rd.start == c.rd.end {
		c.releaseReadBuf()
	}
	return n, nil
}

// failRead records a fatal read error. Authentication and protocol failures
// close the socket, so the peer learns of it and nothing more is read.
func (c *EncryptedConn) failRead(err error) {
	switch {
	case errors.Is(err, crypto.ErrOpen):
		err = authErrorf("frame failed authentication")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		err = ErrTruncated
	default:
		err = c.wrapIOError(err)
	}
	c.rd.err = err
	c.rd.plain = nil
	c.releaseReadBuf()
	if errors.Is(err, ErrAuthFailed) || errors.Is(err, ErrProtocol) || errors.Is(err, crypto.ErrNonceExhausted) {
		_ = c.closeRaw()
	}
}

func (c *EncryptedConn) releaseReadBuf() {
	if c.rd.buf != nil {
		putIOBuf(c.rd.buf, c.rd.high)
		c.rd.buf, c.rd.start, c.rd.end, c.rd.high = nil, 0, 0, 0
	}
}

// readFrame reads, authenticates and decrypts one frame, returning its type
// and body (a slice of the read buffer, valid until the next readFrame). A
// length above maxPlain is refused before anything is read into a buffer.
// The caller holds the read lock and has consumed the previous body.
func (c *EncryptedConn) readFrame(maxPlain int) (typ byte, body []byte, err error) {
	if c.rd.buf == nil {
		// Idle: wait for the next header without holding a pooled buffer,
		// and judge the length before taking one.
		if _, err := io.ReadFull(c.raw, c.rd.hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return 0, nil, ErrTruncated
			}
			return 0, nil, err
		}
		if n := int(binary.BigEndian.Uint16(c.rd.hdr[:])); n < 1 || n > maxPlain {
			return 0, nil, protocolErrorf("frame length %d outside 1-%d", n, maxPlain)
		}
		c.rd.buf = getIOBuf()
		copy(*c.rd.buf, c.rd.hdr[:])
		c.rd.start, c.rd.end, c.rd.high = 0, frameHeaderSize, frameHeaderSize
	}
	if err := c.fill(frameHeaderSize); err != nil {
		return 0, nil, err
	}
	buf := *c.rd.buf
	plainLen := int(binary.BigEndian.Uint16(buf[c.rd.start:]))
	if plainLen < 1 || plainLen > maxPlain {
		return 0, nil, protocolErrorf("frame length %d outside 1-%d", plainLen, maxPlain)
	}
	total := frameHeaderSize + plainLen + tagSize
	if err := c.fill(total); err != nil {
		return 0, nil, err
	}
	s := c.rd.start
	ad := buf[s : s+frameHeaderSize]
	ct := buf[s+frameHeaderSize : s+total]
	plain, err := c.rd.cs.Open(ct[:0], ct, ad)
	c.rd.start += total
	if err != nil {
		return 0, nil, err
	}
	return plain[0], plain[1:], nil
}

// fill makes sure buf[start:end] holds at least n bytes, compacting the
// buffer and reading ahead as far as the socket allows.
func (c *EncryptedConn) fill(n int) error {
	if c.rd.end-c.rd.start >= n {
		return nil
	}
	buf := *c.rd.buf
	if c.rd.start+n > len(buf) {
		copy(buf, buf[c.rd.start:c.rd.end])
		c.rd.end -= c.rd.start
		c.rd.start = 0
	}
	got, err := io.ReadAtLeast(c.raw, buf[c.rd.end:], n-(c.rd.end-c.rd.start))
	c.rd.end += got
	c.rd.high = max(c.rd.high, c.rd.end)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// Close sends close-notify, so the peer can tell a clean end from a cut
// stream, and closes the underlying connection. If a Write is blocked, Close
// waits at most CloseNotifyTimeout for it before closing without close-notify.
func (c *EncryptedConn) Close() error {
	c.closeOnce.Do(func() {
		t := time.NewTimer(c.cfg.CloseNotifyTimeout)
		defer t.Stop()
		select {
		case c.wr.sem <- struct{}{}:
			if c.wr.err == nil {
				c.sendCloseNotifyLocked()
				c.wr.err = ErrClosed
			}
			<-c.wr.sem
		case <-t.C:
		}
		c.closeErr = c.closeRaw()
	})
	return c.closeErr
}

// CloseWrite sends close-notify and refuses further writes; reading goes on.
// The peer's Read returns io.EOF once it has read everything sent before.
func (c *EncryptedConn) CloseWrite() error {
	c.wr.sem <- struct{}{}
	defer func() { <-c.wr.sem }()
	if c.wr.err != nil {
		return c.wr.err
	}
	c.sendCloseNotifyLocked()
	c.wr.err = ErrClosed
	return nil
}

// Abort closes the underlying connection at once, without close-notify; the
// peer sees a truncated stream.
func (c *EncryptedConn) Abort() error {
	c.closeOnce.Do(func() { c.closeErr = c.closeRaw() })
	return c.closeErr
}

func (c *EncryptedConn) closeRaw() error {
	if c.closed.Swap(true) {
		return nil
	}
	return c.raw.Close()
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
