// Package conntest holds the connection helpers the tests of conn,
// conn/mux and p2p share: deterministic identities, loopback TCP pairs, a
// handshake run on both ends of one, and the streaming benchmark. It is
// imported only from test code.
//
// It imports no peerwire package above crypto, so conn's own (internal)
// tests can use it without an import cycle; a package's handshake is handed
// in as a Handshaker, e.g. conn's Client and Server, or those followed by
// mux.New.
package conntest

import (
	"context"
	"crypto/sha256"
	"io"
	"net"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// The network and chain of the tests' handshake configurations.
const (
	NetworkID = "testnet"
	ChainID   = "chain-1"
)

// pairTimeout bounds the handshake of Handshaker.Pair: far above a
// loopback handshake, even on a loaded machine.
const pairTimeout = 10 * time.Second

// Identity returns a deterministic identity for seed byte b.
func Identity(tb testing.TB, b byte) *crypto.Identity {
	tb.Helper()
	seed := sha256.Sum256([]byte{b})
	id, err := crypto.IdentityFromSeed(seed[:])
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// Meta returns the handshake metadata of the tests' configurations: a
// full node of software version "test", declaring no topics.
func Meta() *pb.PeerMeta {
	return &pb.PeerMeta{Role: pb.NodeRole_NODE_ROLE_FULL, SoftwareVersion: "test"}
}

// TCPPair returns the two ends of a fresh loopback TCP connection.
func TCPPair(tb testing.TB) (client, server net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		client.Close()
		tb.Fatal(r.err)
	}
	return client, r.c
}

// DialAccept dials ln and accepts the connection on the calling goroutine
// (the kernel completes a loopback connect before Accept is called): the
// two ends of one more connection to a listener a benchmark keeps open.
func DialAccept(tb testing.TB, ln net.Listener) (client, server net.Conn) {
	tb.Helper()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		client.Close()
		tb.Fatal(err)
	}
	return client, server
}

// Result is one end's outcome of a handshake: its connection, or the error
// (and then a zero Conn).
type Result[C any] struct {
	Conn C
	Err  error
}

// Handshaker is one kind of handshake, run by tests on both ends of a
// connection: Client on the dialing end, expecting the peer ID expected
// (zero: any), and Server on the accepting end, each with its
// configuration. Each returns a zero C with its error.
type Handshaker[Cfg any, C io.Closer] struct {
	Client func(ctx context.Context, raw net.Conn, cfg Cfg, expected crypto.ID) (C, error)
	Server func(ctx context.Context, raw net.Conn, cfg Cfg) (C, error)
}

// Both runs server on its own goroutine and client on the calling one,
// and returns both results once both have returned: the two ends of an
// exchange that neither finishes alone (a handshake, a SETTINGS exchange).
func Both[C any](client, server func() (C, error)) (Result[C], Result[C]) {
	ch := make(chan Result[C], 1)
	go func() {
		c, err := server()
		ch <- Result[C]{c, err}
	}()
	c, err := client()
	return Result[C]{c, err}, <-ch
}

// Run runs Client over rawC and Server over rawS at once (Both), and
// returns both results.
func (h Handshaker[Cfg, C]) Run(ctx context.Context, rawC, rawS net.Conn, cc, sc Cfg, expected crypto.ID) (client, server Result[C]) {
	return Both(
		func() (C, error) { return h.Client(ctx, rawC, cc, expected) },
		func() (C, error) { return h.Server(ctx, rawS, sc) })
}

// Pair returns a connected client and server over a fresh loopback TCP
// connection, both closed when the test ends; a failed handshake fails the
// test.
func (h Handshaker[Cfg, C]) Pair(tb testing.TB, cc, sc Cfg) (client, server C) {
	tb.Helper()
	rawC, rawS := TCPPair(tb)
	ctx, cancel := context.WithTimeout(context.Background(), pairTimeout)
	defer cancel()
	c, s := h.Run(ctx, rawC, rawS, cc, sc, crypto.ID{})
	if c.Err != nil || s.Err != nil {
		if c.Err == nil {
			c.Conn.Close()
		}
		if s.Err == nil {
			s.Conn.Close()
		}
		tb.Fatalf("handshake: client %v, server %v", c.Err, s.Err)
	}
	tb.Cleanup(func() { c.Conn.Close(); s.Conn.Close() })
	return c.Conn, s.Conn
}

// Stream measures one-way throughput: the benchmark goroutine writes b.N
// chunks of size bytes to w, then closes it, while a reader drains r.
func Stream(b *testing.B, w io.WriteCloser, r io.Reader, size int) {
	buf := make([]byte, size)
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, r)
		close(done)
	}()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	w.Close()
	<-done
	b.StopTimer()
}
