package mux

import (
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
