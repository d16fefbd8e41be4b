package conn

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// FuzzHello: hello decoding never panics, round-trips what it accepts, and
// the version negotiated from it lies in both ranges.
func FuzzHello(f *testing.F) {
	hl := hello{version: 1, minVersion: 1, networkTag: crypto.NetworkTag("testnet")}
	hl.ephemeral[0] = 9
	f.Add(appendHello(nil, &hl))
	hl.version, hl.minVersion = 2, 0 // legacy: oldest version not sent
	f.Add(appendHello(nil, &hl))
	hl.version, hl.minVersion = 3, 5 // empty range
	f.Add(appendHello(nil, &hl))
	f.Add([]byte("peerwire"))
	f.Add(make([]byte, HelloSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHello(b)
		if err != nil {
			return
		}
		out := appendHello(nil, &h)
		if !bytes.Equal(out, b) {
			t.Fatalf("hello does not round-trip")
		}
		lo, hi := h.speaks()
		if v, ok := negotiateVersion(MinProtocolVersion, ProtocolVersion, lo, hi); ok && (v < lo || v > hi || v < MinProtocolVersion || v > ProtocolVersion) {
			t.Fatalf("negotiated %d from %d-%d", v, lo, hi)
		}
	})
}

// FuzzAuth: auth decoding and verification never panic, and nothing but a
// correctly signed message for the peer's role passes.
func FuzzAuth(f *testing.F) {
	cfgA := testSecureConfig(f, 1)
	r, err := testSecureConfig(f, 2).resolve()
	if err != nil {
		f.Fatal(err)
	}
	ra, _ := cfgA.resolve()
	challenge := sha256.Sum256([]byte("fuzz challenge"))
	sign := func(role crypto.Role, meta []byte) []byte {
		sig := cfgA.Identity.Sign(crypto.AuthSigningInput(nil, challenge, role, meta))
		b, _ := proto.Marshal(&pb.Auth{IdentityKey: cfgA.Identity.PublicKey(), Meta: meta, Signature: sig})
		return b
	}
	f.Add(sign(crypto.RoleDialer, ra.metaBytes))
	f.Add(sign(crypto.RoleAcceptor, ra.metaBytes))
	f.Add([]byte{0x0a, 0x20})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, _, meta, err := verifyAuth(b, challenge, crypto.RoleDialer, r, crypto.ID{})
		if err != nil {
			return
		}
		if id != cfgA.Identity.ID() || meta == nil {
			t.Fatalf("accepted an auth not signed by the only key that signs here")
		}
	})
}

// memConn is a net.Conn that reads from a fixed byte slice and discards writes.
type memConn struct {
	r io.Reader
}

func (m *memConn) Read(p []byte) (int, error)       { return m.r.Read(p) }
func (m *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzFrameKey is the fixed key under which the frame reader is fuzzed, so
// that valid frames in the seed corpus stay valid.
var fuzzFrameKey = sha256.Sum256([]byte("peerwire fuzz frame key"))

// FuzzFrameReader feeds arbitrary bytes to the frame reader of an
// established connection, as a peer that finished the handshake could. It
// must never panic, never return bytes that were not sealed under the key,
// and always end with an error.
func FuzzFrameReader(f *testing.F) {
	r, err := testSecureConfig(f, 1).resolve()
	if err != nil {
		f.Fatal(err)
	}
	sender := newEncryptedConn(&memConn{r: bytes.NewReader(nil)}, r, true, fuzzFrameKey, fuzzFrameKey)
	seal := func(typ byte, body []byte) []byte {
		b, _ := sender.sealFrame(nil, typ, body)
		return b
	}
	// Seeds: valid frame sequences as the receiver expects them (counter from 0).
	f.Add(append(seal(frameData, []byte("hello")), seal(frameCloseNotify, nil)...))
	sender = newEncryptedConn(&memConn{r: bytes.NewReader(nil)}, r, true, fuzzFrameKey, fuzzFrameKey)
	f.Add(append(append(seal(frameData, bytes.Repeat([]byte{7}, 300)), seal(frameRekey, nil)...), 0, 1))
	f.Add([]byte{0xff, 0xff})
	f.Add([]byte{0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := newEncryptedConn(&memConn{r: bytes.NewReader(b)}, r, false, fuzzFrameKey, fuzzFrameKey)
		buf := make([]byte, 4096)
		total := 0
		for {
			n, err := c.Read(buf)
			total += n
			if total > len(b) {
				t.Fatalf("read %d plaintext bytes from %d input bytes", total, len(b))
			}
			if err != nil {
				if n != 0 {
					t.Fatalf("bytes returned with error %v", err)
				}
				if !errors.Is(err, io.EOF) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrAuthFailed) && !errors.Is(err, ErrProtocol) {
					t.Fatalf("unexpected error kind %v", err)
				}
				return
			}
		}
	})
}
