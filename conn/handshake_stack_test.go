package conn

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/conntest"
)

// TestHandshakeStackReserved: a handshake on a new goroutine (the server's
// in hs.Run, and the client's here) grows its stack once, in
// reserveStack, and never again: the stack does not move between the
// start of handshake and its end.
func TestHandshakeStackReserved(t *testing.T) {
	var moved atomic.Int32
	onStackMoved = func() { moved.Add(1) }
	defer func() { onStackMoved = nil }()
	cc, sc := testSecureConfig(t, 1), testSecureConfig(t, 2)
	const n = 5
	for range n {
		rawC, rawS := conntest.TCPPair(t)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, s := hs.Run(context.Background(), rawC, rawS, cc, sc, crypto.ID{})
			if c.Err != nil || s.Err != nil {
				t.Error(c.Err, s.Err)
				return
			}
			c.Conn.Abort()
			s.Conn.Abort()
		}()
		<-done
	}
	if m := moved.Load(); m != 0 {
		t.Fatalf("the stack moved during %d of %d handshake ends after reserveStack", m, 2*n)
	}
}
