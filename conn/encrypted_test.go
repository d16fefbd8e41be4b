package conn

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// TestRoundTrip sends payloads of boundary sizes both ways at once and checks
// content, then checks a clean close gives io.EOF.
func TestRoundTrip(t *testing.T) {
	sizes := []int{0, 1, MaxFramePayload - 1, MaxFramePayload, MaxFramePayload + 1, 2*MaxFramePayload + 7, 10 << 20}
	for _, size := range sizes {
		t.Run("", func(t *testing.T) {
			c, s := hs.Pair(t, testSecureConfig(t, 1), testSecureConfig(t, 2))
			payloadC := randomBytes(uint64(size), size)
			payloadS := randomBytes(uint64(size)+1, size)
			var wg sync.WaitGroup
			var gotC, gotS []byte
			var errC, errS error
			send := func(conn *EncryptedConn, p []byte) {
				defer wg.Done()
				if n, err := conn.Write(p); err != nil || n != len(p) {
					t.Errorf("write %d bytes: n=%d err=%v", len(p), n, err)
				}
				if err := conn.CloseWrite(); err != nil {
					t.Errorf("close-notify: %v", err)
				}
			}
			recv := func(conn *EncryptedConn, out *[]byte, errp *error) {
				defer wg.Done()
				*out, *errp = io.ReadAll(conn)
			}
			wg.Add(4)
			go send(c, payloadC)
			go send(s, payloadS)
			go recv(c, &gotC, &errC)
			go recv(s, &gotS, &errS)
			wg.Wait()
			if errC != nil || errS != nil {
				t.Fatalf("read errors: client %v server %v", errC, errS)
			}
			if !bytes.Equal(gotS, payloadC) || !bytes.Equal(gotC, payloadS) {
				t.Fatalf("size %d: payload mismatch (got %d and %d bytes)", size, len(gotS), len(gotC))
			}
		})
	}
}

func TestManySmallWritesAndTinyReads(t *testing.T) {
	c, s := hs.Pair(t, testSecureConfig(t, 1), testSecureConfig(t, 2))
	want := randomBytes(7, 200_000)
	go func() {
		for p := want; len(p) > 0; {
			n := min(len(p), 1+int(p[0])%97)
			if _, err := c.Write(p[:n]); err != nil {
				t.Errorf("write: %v", err)
				return
			}
			p = p[n:]
		}
		c.Close()
	}()
	var got []byte
	one := make([]byte, 1)
	for {
		n, err := s.Read(one)
		got = append(got, one[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d, content differs", len(got), len(want))
	}
}

// TestTruncationIsNotEOF: a stream cut without close-notify reads as
// ErrTruncated, a clean Close as io.EOF.
func TestTruncationIsNotEOF(t *testing.T) {
	tests := []struct {
		name  string
		close func(*EncryptedConn) error
		want  error
	}{
		{"close-notify", (*EncryptedConn).Close, io.EOF},
		{"cut", (*EncryptedConn).Abort, ErrTruncated},
		// §4.2: close-notify has an empty body; one with a body is a
		// protocol violation, not a clean end.
		{"close-notify with a body", func(c *EncryptedConn) error { return sendCloseNotifyBody(c, []byte("bye")) }, ErrProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, s := hs.Pair(t, testSecureConfig(t, 1), testSecureConfig(t, 2))
			if _, err := c.Write([]byte("last words")); err != nil {
				t.Fatal(err)
			}
			tc.close(c)
			buf := make([]byte, 64)
			n, err := io.ReadFull(s, buf[:10])
			if err != nil || string(buf[:n]) != "last words" {
				t.Fatalf("read %q, %v", buf[:n], err)
			}
			_, err = s.Read(buf)
			if !errors.Is(err, tc.want) {
				t.Fatalf("after %s: got %v, want %v", tc.name, err, tc.want)
			}
			if tc.want != io.EOF && errors.Is(err, io.EOF) {
				t.Fatalf("after %s: %v reads as a clean end of stream", tc.name, err)
			}
			if tc.want == ErrTruncated && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ErrTruncated should wrap io.ErrUnexpectedEOF")
			}
		})
	}
}

func TestDeadlinesAndClose(t *testing.T) {
	c, s := hs.Pair(t, testSecureConfig(t, 1), testSecureConfig(t, 2))
	if err := s.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := s.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past deadline: %v, want a timeout", err)
	}
	c.Close()
	c.Close() // idempotent
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	if s.RemoteID() != c.LocalID() || c.RemoteID() != s.LocalID() {
		t.Fatal("identities not exchanged")
	}
	if c.RemoteMeta().GetSoftwareVersion() != "test" || c.RemoteMeta().GetChainId() != "chain-1" {
		t.Fatalf("remote meta %v", c.RemoteMeta())
	}
}

// TestBlockedWriterDoesNotBlockClose: Close returns even while a Write is
// stuck because the peer does not read.
func TestBlockedWriterDoesNotBlockClose(t *testing.T) {
	cc := testSecureConfig(t, 1)
	cc.CloseNotifyTimeout = 50 * time.Millisecond
	c, _ := hs.Pair(t, cc, testSecureConfig(t, 2))
	done := make(chan error, 1)
	first := make(chan struct{})
	go func() {
		chunk := make([]byte, 1<<20)
		for i := 0; ; i++ {
			if _, err := c.Write(chunk); err != nil {
				done <- err
				return
			}
			if i == 0 {
				close(first)
			}
		}
	}()
	// The peer never reads, so the writer soon blocks; Close must still end it.
	<-first
	start := time.Now()
	c.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("blocked write ended with %v, want net.ErrClosed", err)
	}
}

func TestHashOfLargeTransfer(t *testing.T) {
	c, s := hs.Pair(t, testSecureConfig(t, 1), testSecureConfig(t, 2))
	const total = 32 << 20
	go func() {
		chunk := randomBytes(3, 100_003)
		for sent := 0; sent < total; {
			n := min(len(chunk), total-sent)
			if _, err := c.Write(chunk[:n]); err != nil {
				t.Errorf("write: %v", err)
				return
			}
			sent += n
		}
		c.Close()
	}()
	h := sha256.New()
	n, err := io.Copy(h, s)
	if err != nil || n != total {
		t.Fatalf("copied %d, %v", n, err)
	}
}

// sendCloseNotifyBody sends a close-notify frame carrying body, as no
// correct peer does, then closes the socket.
func sendCloseNotifyBody(c *EncryptedConn, body []byte) error {
	c.wr.sem <- struct{}{}
	defer func() { <-c.wr.sem }()
	b, err := c.sealFrame(nil, frameCloseNotify, body)
	if err != nil {
		return err
	}
	if _, err := c.raw.Write(b); err != nil {
		return err
	}
	c.wr.err = ErrClosed
	return c.closeRaw()
}
