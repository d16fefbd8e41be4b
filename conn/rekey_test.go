package conn

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/clock"
)

// TestThousandsOfRekeys: with tiny limits every kind of trigger fires
// thousands of times and the data stays intact.
func TestThousandsOfRekeys(t *testing.T) {
	tests := []struct {
		name string
		set  func(*SecureConfig, *clock.Fake)
		step func(*clock.Fake)
	}{
		{"frames", func(c *SecureConfig, _ *clock.Fake) { c.RekeyAfterFrames = 1 }, nil},
		{"bytes", func(c *SecureConfig, _ *clock.Fake) { c.RekeyAfterBytes = 150 }, nil},
		{"time", func(c *SecureConfig, fc *clock.Fake) { c.Clock = fc; c.RekeyAfterTime = time.Second }, func(fc *clock.Fake) { fc.Advance(time.Second) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake()
			cc := testSecureConfig(t, 1)
			tc.set(cc, clk)
			c, s := hs.Pair(t, cc, testSecureConfig(t, 2))
			const n = 3000
			want := randomBytes(11, n*100)
			go func() {
				for i := 0; i < n; i++ {
					if tc.step != nil {
						tc.step(clk)
					}
					if _, err := c.Write(want[i*100 : (i+1)*100]); err != nil {
						t.Errorf("write %d: %v", i, err)
						return
					}
				}
				c.CloseWrite()
			}()
			got, err := io.ReadAll(s)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, err %v; content equal %v", len(got), err, bytes.Equal(got, want))
			}
			sent, _ := c.Rekeys()
			_, recv := s.Rekeys()
			if sent < n-2 || recv != sent {
				t.Fatalf("rekeys sent %d, received %d; want about %d on both", sent, recv, n)
			}
		})
	}
}

// TestOldKeyRefusedAfterRatchet: after a rekey, a frame sealed under the
// previous key with the very nonce the receiver now expects is refused. The
// proxy replaces the first frame after the rekey with the auth frame, which
// was sealed under the first key with nonce 0.
func TestOldKeyRefusedAfterRatchet(t *testing.T) {
	var authFrame []byte
	rekeySeen := false
	c, s := frameProxyCfg(t, func(cc *SecureConfig) { cc.RekeyAfterFrames = 2 }, func(i int, f []byte) [][]byte {
		switch {
		case i == 0:
			authFrame = bytes.Clone(f)
		case i == 2: // the rekey frame precedes the second data frame
			rekeySeen = true
		case i == 3 && rekeySeen:
			return [][]byte{authFrame}
		}
		return [][]byte{f}
	})
	c.Write([]byte("under the first key"))
	c.Write([]byte("under the second key"))
	got := make([]byte, 19)
	if _, err := io.ReadFull(s, got); err != nil || string(got) != "under the first key" {
		t.Fatalf("first frame: %q %v", got, err)
	}
	if _, err := s.Read(make([]byte, 64)); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("old-key frame after ratchet: got %v, want ErrAuthFailed", err)
	}
}

// TestHardLimitClosesCleanly: when the ratchet cannot come first, the
// connection ends at the hard limit: Write reports ErrNonceExhausted and the
// peer reads everything sent, then a clean io.EOF.
func TestHardLimitClosesCleanly(t *testing.T) {
	cc := testSecureConfig(t, 1)
	cc.RejectAfterFrames = 10
	cc.RekeyAfterFrames = 1 << 40
	sc := testSecureConfig(t, 2)
	sc.RejectAfterFrames = 10
	c, s := hs.Pair(t, cc, sc)
	var sent []byte
	var werr error
	for i := 0; i < 20 && werr == nil; i++ {
		msg := []byte{byte(i), byte(i), byte(i)}
		var n int
		n, werr = c.Write(msg)
		sent = append(sent, msg[:n]...)
	}
	if !errors.Is(werr, ErrNonceExhausted) {
		t.Fatalf("write error %v, want ErrNonceExhausted", werr)
	}
	// auth took nonce 0, close-notify the last: 8 data frames.
	if len(sent) != 8*3 {
		t.Fatalf("sent %d bytes before the limit, want 24", len(sent))
	}
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, sent) {
		t.Fatalf("peer read %d bytes, %v; want %d bytes and a clean EOF", len(got), err, len(sent))
	}
}

// frameProxyCfg is frameProxy with a client config hook.
func frameProxyCfg(t *testing.T, set func(*SecureConfig), mutate func(int, []byte) [][]byte) (*EncryptedConn, *EncryptedConn) {
	t.Helper()
	return frameProxyWith(t, set, mutate)
}
