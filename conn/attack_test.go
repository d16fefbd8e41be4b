package conn

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/peerwire/peerwire/internal/conntest"

	"github.com/peerwire/peerwire/crypto"
)

// TestManInTheMiddle: an attacker relays the handshake but substitutes its
// own ephemeral keys, then re-encrypts the auth messages it relays. Each side
// then holds a different challenge, so both identity proofs fail.
func TestManInTheMiddle(t *testing.T) {
	cToM, mFromC := conntest.TCPPair(t)
	mToS, sFromM := conntest.TCPPair(t)
	defer mFromC.Close()
	defer mToS.Close()
	mitmCfg, err := testSecureConfig(t, 7).resolve()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		var hC, hS [HelloSize]byte
		if _, err := io.ReadFull(mFromC, hC[:]); err != nil {
			return
		}
		if _, err := io.ReadFull(mToS, hS[:]); err != nil {
			return
		}
		m1, _ := ecdh.X25519().GenerateKey(rand.Reader)
		m2, _ := ecdh.X25519().GenerateKey(rand.Reader)
		toC, toS := hS, hC
		copy(toC[18:50], m1.PublicKey().Bytes())
		copy(toS[18:50], m2.PublicKey().Bytes())
		mFromC.Write(toC[:])
		mToS.Write(toS[:])
		legC := mitmLeg(t, mitmCfg, mFromC, m1, hC, toC)
		legS := mitmLeg(t, mitmCfg, mToS, m2, hS, toS)
		var wg sync.WaitGroup
		wg.Add(2)
		relay := func(from, to *EncryptedConn) {
			defer wg.Done()
			typ, body, err := readFrameRaw(from)
			if err != nil {
				return
			}
			var buf []byte
			buf, _ = to.sealFrame(buf, typ, body)
			to.raw.Write(buf)
		}
		go relay(legC, legS)
		go relay(legS, legC)
		wg.Wait()
	}()
	c, s := hs.Run(context.Background(), cToM, sFromM, testSecureConfig(t, 1), testSecureConfig(t, 2), crypto.ID{})
	if !errors.Is(c.Err, ErrAuthFailed) || !errors.Is(s.Err, ErrAuthFailed) {
		t.Fatalf("client %v, server %v; want both ErrAuthFailed", c.Err, s.Err)
	}
}

// mitmLeg derives the keys the attacker shares with one victim.
func mitmLeg(t *testing.T, cfg *resolved, raw net.Conn, priv *ecdh.PrivateKey, victimHello, sentHello [HelloSize]byte) *EncryptedConn {
	victimPub, _ := ecdh.X25519().NewPublicKey(victimHello[18:50])
	shared, err := priv.ECDH(victimPub)
	if err != nil {
		t.Error(err)
	}
	th := crypto.Transcript("testnet", victimHello[:], victimHello[18:50], sentHello[:], sentHello[18:50])
	keys, _ := crypto.DeriveSessionKeys(shared, th)
	send, recv := keys.LowKey, keys.HighKey
	if bytes.Compare(sentHello[18:50], victimHello[18:50]) > 0 {
		send, recv = recv, send
	}
	return newEncryptedConn(raw, cfg, false, send, recv)
}

// readFrameRaw reads one frame of any type, as an attacker holding the keys would.
func readFrameRaw(c *EncryptedConn) (byte, []byte, error) {
	c.rd.Lock()
	defer c.rd.Unlock()
	typ, body, err := c.readFrame(maxFramePlaintext)
	return typ, bytes.Clone(body), err
}

// TestReflection: a peer that echoes everything we send is refused: the hello
// echo by the equal ephemeral keys, and an auth echo (re-encrypted by a
// reflector that did its own key exchange) by the role bound into the signature.
func TestReflection(t *testing.T) {
	t.Run("hello echo", func(t *testing.T) {
		rawC, rawS := conntest.TCPPair(t)
		go func() { io.Copy(rawS, rawS); rawS.Close() }()
		_, err := Client(context.Background(), rawC, testSecureConfig(t, 1), crypto.ID{})
		if !errors.Is(err, ErrReflection) {
			t.Fatalf("got %v, want ErrReflection", err)
		}
	})
	t.Run("auth echo", func(t *testing.T) {
		rawC, rawS := conntest.TCPPair(t)
		defer rawS.Close()
		cfg, _ := testSecureConfig(t, 3).resolve()
		go func() {
			var hC [HelloSize]byte
			if _, err := io.ReadFull(rawS, hC[:]); err != nil {
				return
			}
			priv, _ := ecdh.X25519().GenerateKey(rand.Reader)
			reply := hC
			copy(reply[18:50], priv.PublicKey().Bytes())
			rawS.Write(reply[:])
			leg := mitmLeg(t, cfg, rawS, priv, hC, reply)
			typ, body, err := readFrameRaw(leg)
			if err != nil {
				return
			}
			buf, _ := leg.sealFrame(nil, typ, body)
			rawS.Write(buf)
			io.Copy(io.Discard, rawS)
		}()
		_, err := Client(context.Background(), rawC, testSecureConfig(t, 1), crypto.ID{})
		if !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("got %v, want ErrAuthFailed", err)
		}
	})
}

// TestLowOrderKeys: ephemeral keys whose shared secret is all zeros are refused.
func TestLowOrderKeys(t *testing.T) {
	keys := []string{
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	}
	for _, k := range keys {
		t.Run(k[:8], func(t *testing.T) {
			rawC, rawS := conntest.TCPPair(t)
			go func() {
				hl := hello{version: 1, networkTag: crypto.NetworkTag("testnet")}
				hex.Decode(hl.ephemeral[:], []byte(k))
				rawS.Write(appendHello(nil, &hl))
				io.Copy(io.Discard, rawS)
				rawS.Close()
			}()
			_, err := Client(context.Background(), rawC, testSecureConfig(t, 1), crypto.ID{})
			if !errors.Is(err, ErrBadKey) {
				t.Fatalf("got %v, want ErrBadKey", err)
			}
		})
	}
}

// frameProxy relays server→client untouched and client→server frame by
// frame (after the hello), letting mutate replace frame i (0 is the auth
// frame) with any frames.
func frameProxy(t *testing.T, mutate func(i int, frame []byte) [][]byte) (client, server *EncryptedConn) {
	t.Helper()
	return frameProxyWith(t, nil, mutate)
}

func frameProxyWith(t *testing.T, set func(*SecureConfig), mutate func(i int, frame []byte) [][]byte) (client, server *EncryptedConn) {
	t.Helper()
	cc := testSecureConfig(t, 1)
	if set != nil {
		set(cc)
	}
	rawC, pFromC := conntest.TCPPair(t)
	pToS, rawS := conntest.TCPPair(t)
	go func() { io.Copy(pFromC, pToS); pFromC.Close() }()
	go func() {
		defer pToS.Close()
		var h [HelloSize]byte
		if _, err := io.ReadFull(pFromC, h[:]); err != nil {
			return
		}
		pToS.Write(h[:])
		for i := 0; ; i++ {
			var hdr [2]byte
			if _, err := io.ReadFull(pFromC, hdr[:]); err != nil {
				return
			}
			frame := make([]byte, 2+int(binary.BigEndian.Uint16(hdr[:]))+tagSize)
			copy(frame, hdr[:])
			if _, err := io.ReadFull(pFromC, frame[2:]); err != nil {
				return
			}
			for _, f := range mutate(i, frame) {
				pToS.Write(f)
			}
		}
	}()
	c, s := hs.Run(context.Background(), rawC, rawS, cc, testSecureConfig(t, 2), crypto.ID{})
	if c.Err != nil || s.Err != nil {
		t.Fatalf("handshake through proxy: %v / %v", c.Err, s.Err)
	}
	t.Cleanup(func() { c.Conn.Close(); s.Conn.Close() })
	return c.Conn, s.Conn
}

// TestTamperedFrames: a flipped bit anywhere in a frame, or a frame replayed,
// reordered or dropped, ends the stream with an error; nothing from the bad
// frame or after it is delivered.
func TestTamperedFrames(t *testing.T) {
	const nFrames = 5
	payload := func(i int) []byte { return bytes.Repeat([]byte{byte('A' + i)}, 100) }
	flip := func(pos int) func(int, []byte) [][]byte {
		return func(i int, f []byte) [][]byte {
			if i == 2 {
				f[pos] ^= 0x01
			}
			return [][]byte{f}
		}
	}
	var held []byte
	tests := []struct {
		name   string
		mutate func(int, []byte) [][]byte
		good   int // data frames delivered intact before the failure
	}{
		{"length", flip(1), 1},
		{"type byte", flip(2), 1},
		{"body", flip(50), 1},
		{"tag", flip(2 + 101 + 15), 1},
		{"replay", func(i int, f []byte) [][]byte {
			if i == 2 {
				return [][]byte{f, f}
			}
			return [][]byte{f}
		}, 2},
		{"reorder", func(i int, f []byte) [][]byte {
			switch i {
			case 2:
				held = f
				return nil
			case 3:
				return [][]byte{f, held}
			}
			return [][]byte{f}
		}, 1},
		{"drop", func(i int, f []byte) [][]byte {
			if i == 2 {
				return nil
			}
			return [][]byte{f}
		}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, s := frameProxy(t, tc.mutate)
			var want []byte
			for i := 1; i <= nFrames; i++ {
				if _, err := c.Write(payload(i)); err != nil {
					t.Fatal(err)
				}
				if i <= tc.good {
					want = append(want, payload(i)...)
				}
			}
			// Pad so a lengthened frame still finds bytes to read.
			c.Write(make([]byte, 300))
			got, err := io.ReadAll(s)
			if !errors.Is(err, ErrAuthFailed) && !errors.Is(err, ErrProtocol) {
				t.Fatalf("got error %v, want an authentication or protocol failure", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("delivered %d bytes, want exactly the %d bytes before the bad frame", len(got), len(want))
			}
			if _, err := s.Read(make([]byte, 1)); err == nil {
				t.Fatal("read succeeded after an authentication failure")
			}
		})
	}
}
