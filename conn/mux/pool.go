package mux

import (
	"sync"
)

// bufPool holds the read and write buffers of every MultiConn: a
// connection takes one while data moves and gives it back when idle, so an
// idle connection holds none.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, bufLen)
	return &b
}}
