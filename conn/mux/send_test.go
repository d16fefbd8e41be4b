package mux

import (
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/peerwire/peerwire/conn"
)

// TestNotSentLowat: New sets TCP_NOTSENT_LOWAT on the socket under
// the EncryptedConn; a non-TCP connection reports ErrUnsupported.
func TestNotSentLowat(t *testing.T) {
	ca, _ := mcConfig(mcTestTopics())
	cb, _ := mcConfig(mcTestTopics())
	cb.NotSentLowat = 64 << 10
	a, b := mcPair(t, ca, cb)
	for _, tc := range []struct {
		c    *MultiConn
		want int
	}{{a, DefaultNotSentLowat}, {b, 64 << 10}} {
		raw := tc.c.Transport().(*conn.EncryptedConn).NetConn().(*net.TCPConn)
		sc, err := raw.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var got int
		var gerr error
		sc.Control(func(fd uintptr) {
			got, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat)
		})
		if gerr != nil || got != tc.want {
			t.Fatalf("TCP_NOTSENT_LOWAT = %d, %v; want %d", got, gerr, tc.want)
		}
	}
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if err := SetNotSentLowat(p1, 1024); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("on a pipe: %v", err)
	}
}

func TestMsgQueue(t *testing.T) {
	var q msgQueue
	next := 0
	for round := range 3 {
		for i := range 100 * (round + 1) {
			q.push(&outMsg{data: []byte{byte(i)}})
			if i%3 == 0 {
				if q.front().data[0] != byte(next) {
					t.Fatalf("round %d: front %d, want %d", round, q.front().data[0], next)
				}
				q.pop()
				next++
			}
		}
		for q.n > 0 {
			if q.front().data[0] != byte(next) {
				t.Fatalf("round %d drain: front %d, want %d", round, q.front().data[0], next)
			}
			q.pop()
			next++
		}
		next = 0
		if q.buf != nil {
			t.Fatal("an empty queue kept its memory")
		}
	}
}
