package conn

import "sync"

// ioBufPool holds the read and write buffers of every EncryptedConn. A
// connection takes a buffer while data moves and gives it back, zeroed, when
// it is idle, so an idle connection holds no frame buffer.
var ioBufPool = sync.Pool{New: func() any {
	b := make([]byte, ioBufSize)
	return &b
}}

func getIOBuf() *[]byte { return ioBufPool.Get().(*[]byte) }

// putIOBuf zeroes the first used bytes of b and returns it to the pool.
func putIOBuf(b *[]byte, used int) {
	clear((*b)[:used])
	ioBufPool.Put(b)
}

// Layout of a handshake's scratch buffer: our hello, then our auth frame,
// then what the peer sends (its hello, its auth frame and any bytes after
// it). An auth frame with PeerMeta of up to ~260 bytes fits (the tests'
// is ~40); a larger one takes a buffer of its own.
const (
	scratchOut     = HelloSize
	scratchAuthOut = 384
	scratchIn      = scratchOut + scratchAuthOut
	scratchSize    = scratchIn + HelloSize + 384
)

// scratchPool holds the handshake scratch buffers: one per handshake in
// progress, zeroed when returned.
var scratchPool = sync.Pool{New: func() any { return new([scratchSize]byte) }}

func getScratch() *[scratchSize]byte { return scratchPool.Get().(*[scratchSize]byte) }

func putScratch(b *[scratchSize]byte) {
	clear(b[:])
	scratchPool.Put(b)
}
