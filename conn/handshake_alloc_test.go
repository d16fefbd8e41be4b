package conn

import (
	"context"
	"net"
	"runtime"
	"testing"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/conntest"
)

// maxHandshakeHeap bounds the heap one handshake allocates, both ends
// together, in bytes: the measured ~2,870 B with a margin of ~7% for
// runtime versions. Issue 13 asks for at most 8 KiB.
const maxHandshakeHeap = 3 << 10

// TestHandshakeAllocations: a handshake allocates at most maxHandshakeHeap
// bytes of heap, both ends together (it was 9.1 KB: the auth message was
// marshalled and then copied into its frame, and each side built its
// signing input on the heap; then 8.1 KB, before the key schedule, the
// hellos, the auth frames and X25519 left the heap). The TCP connections are made first; the
// figure is the mean over handshakes run one at a time, as
// BenchmarkHandshake runs them, in the least of three rounds. The race
// detector adds raceHeapAllowance.
func TestHandshakeAllocations(t *testing.T) {
	const rounds, n = 3, 10
	cc, sc := testSecureConfig(t, 1), testSecureConfig(t, 2)
	ctx := context.Background()
	handshake := func(rawC, rawS net.Conn) {
		c, s := hs.Run(ctx, rawC, rawS, cc, sc, crypto.ID{})
		if c.Err != nil || s.Err != nil {
			t.Fatal(c.Err, s.Err)
		}
		c.Conn.Abort()
		s.Conn.Abort()
	}
	handshake(conntest.TCPPair(t)) // warm: resolved configs, pools
	best := -1.0
	for range rounds {
		raws := make([][2]net.Conn, n)
		for i := range raws {
			raws[i][0], raws[i][1] = conntest.TCPPair(t)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for _, r := range raws {
			handshake(r[0], r[1])
		}
		runtime.ReadMemStats(&after)
		// Other goroutines (the runtime's, the test's listener) only add
		// to the count: the least of the rounds is the handshake's own.
		per := float64(after.TotalAlloc-before.TotalAlloc) / n
		if best < 0 || per < best {
			best = per
		}
	}
	t.Logf("%.0f bytes of heap per handshake, both ends", best)
	if limit := float64(maxHandshakeHeap + raceHeapAllowance); best > limit {
		t.Fatalf("%.0f bytes of heap per handshake, both ends; want at most %.0f", best, limit)
	}
}
