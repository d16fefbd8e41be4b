package conn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/conntest"
	"github.com/peerwire/peerwire/proto/pb"
)

// holdAuthConn delays its second write (the dialer's auth frame) and sends
// it in one syscall with the third (the first data frame), so that the
// acceptor's auth read brings the data frame's bytes too.
type holdAuthConn struct {
	net.Conn
	writes int
	held   []byte
}

func (c *holdAuthConn) Write(p []byte) (int, error) {
	c.writes++
	switch c.writes {
	case 2:
		c.held = append([]byte(nil), p...)
		return len(p), nil
	case 3:
		if _, err := c.Conn.Write(append(c.held, p...)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// byteConn writes one byte per syscall, so the peer reads every message in
// pieces.
type byteConn struct{ net.Conn }

func (c byteConn) Write(p []byte) (int, error) {
	for i := range p {
		if _, err := c.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
	}
	return len(p), nil
}

// TestAuthFrameRead: the acceptor reads the dialer's auth frame however it
// arrives: with the dialer's first data frame in the same segment (those
// bytes reach the first Read), a byte at a time, and larger than the
// handshake's scratch buffer.
func TestAuthFrameRead(t *testing.T) {
	bigMeta := conntest.Meta()
	for range maxListenAddrs {
		bigMeta.ListenAddrs = append(bigMeta.ListenAddrs, strings.Repeat("a", maxListenAddrSz))
	}
	tests := []struct {
		name string
		wrap func(net.Conn) net.Conn
		meta *pb.PeerMeta
	}{
		{"data frame in the auth frame's segment", func(c net.Conn) net.Conn { return &holdAuthConn{Conn: c} }, nil},
		{"a byte per segment", func(c net.Conn) net.Conn { return byteConn{c} }, nil},
		{"auth frame larger than the scratch buffer", func(c net.Conn) net.Conn { return c }, bigMeta},
		{"large auth frame, a byte per segment", func(c net.Conn) net.Conn { return byteConn{c} }, bigMeta},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := testSecureConfig(t, 1), testSecureConfig(t, 2)
			if tc.meta != nil {
				cc.Meta = tc.meta
			}
			rawC, rawS := conntest.TCPPair(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// The dialer writes its first frame as soon as it is done,
			// while the acceptor still waits for the dialer's auth.
			type result struct {
				c   *EncryptedConn
				err error
			}
			done := make(chan result, 1)
			go func() {
				s, err := Server(ctx, rawS, sc)
				done <- result{s, err}
			}()
			c, err := Client(ctx, tc.wrap(rawC), cc, crypto.ID{})
			if err != nil {
				t.Fatalf("dialer: %v", err)
			}
			defer c.Close()
			want := []byte("first frame")
			if _, err := c.Write(want); err != nil {
				t.Fatal(err)
			}
			res := <-done
			if res.err != nil {
				t.Fatalf("acceptor: %v", res.err)
			}
			s := res.c
			defer s.Close()
			if got := len(s.RemoteMeta().ListenAddrs); got != len(cc.Meta.ListenAddrs) {
				t.Fatalf("acceptor saw %d listen addresses, want %d", got, len(cc.Meta.ListenAddrs))
			}
			s.SetReadDeadline(time.Now().Add(5 * time.Second))
			got := make([]byte, len(want))
			if _, err := io.ReadFull(s, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("first Read: %q, %v; want %q", got, err, want)
			}
		})
	}
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// FuzzAuthFrame feeds arbitrary bytes, in reads of a size the input picks,
// to the handshake's auth-frame reader (receiveAuth and the hand-off of the
// bytes after the frame) under a fixed key. It must never panic, accept
// only a frame that authenticates and is signed by the one key that signs
// here, and after it leave every byte following the frame, in order, to the
// connection's reader.
func FuzzAuthFrame(f *testing.F) {
	cfgA := testSecureConfig(f, 1)
	r, err := testSecureConfig(f, 2).resolve()
	if err != nil {
		f.Fatal(err)
	}
	ra, _ := cfgA.resolve()
	challenge := sha256.Sum256([]byte("fuzz challenge"))
	frame := func(meta []byte, after ...byte) []byte {
		sig := cfgA.Identity.Sign(crypto.AuthSigningInput(nil, challenge, crypto.RoleDialer, meta))
		body, _ := proto.Marshal(&pb.Auth{IdentityKey: cfgA.Identity.PublicKey(), Meta: meta, Signature: sig})
		sender := newEncryptedConn(&memConn{r: bytes.NewReader(nil)}, r, true, fuzzFrameKey, fuzzFrameKey)
		b, _ := sender.sealFrame(nil, frameAuth, body)
		return append(b, after...)
	}
	big := conntest.Meta()
	big.NetworkId, big.ChainId = conntest.NetworkID, conntest.ChainID
	big.ListenAddrs = []string{strings.Repeat("b", 300), strings.Repeat("c", 300)}
	bigMeta, _ := proto.MarshalOptions{Deterministic: true}.Marshal(big)
	f.Add(byte(255), frame(ra.metaBytes))
	f.Add(byte(255), frame(ra.metaBytes, 0, 17, 1, 2, 3))
	f.Add(byte(1), frame(ra.metaBytes, 9))
	f.Add(byte(7), frame(bigMeta, 5, 5))
	f.Add(byte(255), []byte{0xff, 0xff})
	f.Add(byte(3), []byte{0x00, 0x00})
	f.Fuzz(func(t *testing.T, chunk byte, b []byte) {
		in := &chunkReader{r: bytes.NewReader(b), n: max(1, int(chunk))}
		raw := &memConn{r: in}
		c := newEncryptedConn(raw, r, false, fuzzFrameKey, fuzzFrameKey)
		sb := getScratch()
		defer putScratch(sb)
		h := handshaker{raw: raw, cfg: r, role: crypto.RoleAcceptor, scratch: sb, in: sb[scratchIn:]}
		if err := h.receiveAuth(c, challenge); err != nil {
			return
		}
		if c.remoteID != cfgA.Identity.ID() {
			t.Fatalf("accepted an auth frame not signed by the only key that signs here")
		}
		h.handOff(c)
		var rest []byte
		if c.rd.buf != nil {
			rest = append(rest, (*c.rd.buf)[c.rd.start:c.rd.end]...)
		}
		tail, _ := io.ReadAll(in)
		rest = append(rest, tail...)
		n := frameHeaderSize + (int(b[0])<<8 | int(b[1]))
		if want := b[n+tagSize:]; !bytes.Equal(rest, want) {
			t.Fatalf("bytes after the auth frame: %x, want %x", rest, want)
		}
	})
}
