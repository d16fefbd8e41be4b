package mux

import (
	"math/bits"
	"sync"

	"github.com/peerwire/peerwire/conn"
)

// bufPool holds the read and write buffers of every MultiConn: a
// connection takes one while data moves and gives it back when idle, so an
// idle connection holds none.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, bufLen)
	return &b
}}

// frameBufPool holds the writer's buffers over a transport that seals in
// place (frameWriter): a batch of up to frameBudget bytes with room for
// the frame's header before it and its tag after it.
var frameBufPool = sync.Pool{New: func() any {
	b := make([]byte, conn.FrameHeadroom+bufLen+conn.FrameTailroom)
	return &b
}}

// Message buffers given back by Message.Release, by size class: class k
// holds buffers of at least 1<<k bytes. Reusing them spares the receiver
// a fresh allocation per message — zeroing it, and the garbage collections
// that an allocation rate of a GB/s starts every few megabytes — which
// bound 1 MiB messages at ~0.65× the EncryptedConn's throughput (issue 13;
// BenchmarkMultiRatio's 1MiB-keep). Messages under 64 KiB are cheap to
// allocate and those over 64 MiB rare: neither is pooled. sync.Pool lets
// the garbage collector take back what is not reused.
const (
	msgBufMinShift = 16
	msgBufMaxShift = 26
)

var msgBufPools [msgBufMaxShift - msgBufMinShift + 1]sync.Pool

// newMsgBuf returns a buffer of length n and capacity total for a message
// of total bytes: a released one of total's class if there is one, else a
// new one. A released buffer's bytes are stale, not zero: the caller
// overwrites all total of them before anyone else sees the buffer.
func newMsgBuf(n, total int) []byte {
	if total >= 1<<msgBufMinShift {
		if k := bits.Len(uint(total - 1)); k <= msgBufMaxShift {
			if b, ok := msgBufPools[k-msgBufMinShift].Get().(*[]byte); ok {
				return (*b)[:n:total]
			}
		}
	}
	return make([]byte, n, total)
}

// putMsgBuf gives b, which nothing uses any more, to the pool of the
// largest class its capacity covers.
func putMsgBuf(b []byte) {
	c := cap(b)
	if c < 1<<msgBufMinShift {
		return
	}
	k := bits.Len(uint(c)) - 1
	if k > msgBufMaxShift {
		return
	}
	b = b[:c]
	msgBufPools[k-msgBufMinShift].Put(&b)
}
