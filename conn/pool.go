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
