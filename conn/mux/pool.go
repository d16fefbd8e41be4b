package mux

import (
	"slices"
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

// Message buffers given back by Message.Release, by size class. Reusing
// them spares the receiver a fresh allocation per message — zeroing it,
// and the garbage collections that an allocation rate of a GB/s starts
// every few megabytes — which bound 1 MiB messages at ~0.65× the
// EncryptedConn's throughput (issue 13; BenchmarkMultiRatio's 1MiB-keep).
// The classes run from 64 KiB to 64 MiB, four per power of two (1, 1.25,
// 1.5 and 1.75 times it), and a message's buffer is its class's size, so
// messages of one length (a 1 MiB block behind a kind byte is 1 MiB + 1)
// reuse each other's buffers and a buffer is under 1.25× its message.
// Messages under 64 KiB are cheap to allocate and those over 64 MiB rare:
// neither is pooled. sync.Pool lets the garbage collector take back what
// is not reused.
const (
	msgBufMin = 64 << 10
	msgBufMax = 64 << 20
)

// msgBufSizes are the classes' buffer sizes, ascending.
var msgBufSizes = func() []int {
	var s []int
	for base := msgBufMin; base < msgBufMax; base <<= 1 {
		for q := 4; q < 8; q++ {
			s = append(s, base/4*q)
		}
	}
	return append(s, msgBufMax)
}()

var msgBufPools = make([]sync.Pool, len(msgBufSizes))

// msgBufClass returns the class of the smallest buffer that holds total
// bytes, or -1 when such messages are not pooled.
func msgBufClass(total int) int {
	if total < msgBufMin || total > msgBufMax {
		return -1
	}
	k, _ := slices.BinarySearch(msgBufSizes, total)
	return k
}

// newMsgBuf returns a buffer of length n and capacity total for a message
// of total bytes, and, for a pooled size, the class-sized buffer behind it
// (for putMsgBuf): a released one if there is one, else a new one. A
// released buffer's bytes are stale, not zero: the caller overwrites all
// total of them before anyone else sees the buffer, and the capacity
// stops at total, so nothing past the message shows.
func newMsgBuf(n, total int) (b []byte, full *[]byte) {
	k := msgBufClass(total)
	if k < 0 {
		return make([]byte, n, total), nil
	}
	full, _ = msgBufPools[k].Get().(*[]byte)
	if full == nil {
		buf := make([]byte, msgBufSizes[k])
		full = &buf
	}
	return (*full)[:n:total], full
}

// putMsgBuf gives full, a buffer newMsgBuf returned that nothing uses any
// more, back to its class.
func putMsgBuf(full *[]byte) {
	if full == nil {
		return
	}
	if k := msgBufClass(cap(*full)); k >= 0 && msgBufSizes[k] == cap(*full) {
		msgBufPools[k].Put(full)
	}
}
