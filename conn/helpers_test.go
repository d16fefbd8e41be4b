package conn

import (
	"context"
	"crypto/sha256"
	"net"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// testIdentity returns a deterministic identity for seed byte b.
func testIdentity(t testing.TB, b byte) *crypto.Identity {
	t.Helper()
	seed := sha256.Sum256([]byte{b})
	id, err := crypto.IdentityFromSeed(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func testSecureConfig(t testing.TB, b byte) *SecureConfig {
	return &SecureConfig{
		Identity:  testIdentity(t, b),
		NetworkID: "testnet",
		ChainID:   "chain-1",
		Meta:      &pb.PeerMeta{Role: pb.NodeRole_NODE_ROLE_FULL, SoftwareVersion: "test"},
	}
}

// tcpPair returns the two ends of a fresh loopback TCP connection.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
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
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		client.Close()
		t.Fatal(r.err)
	}
	return client, r.c
}

type hsResult struct {
	c   *EncryptedConn
	err error
}

// handshakePair runs Client and Server over the given raw connections and
// returns both results.
func handshakePair(ctx context.Context, rawC, rawS net.Conn, cc, sc *SecureConfig, expected crypto.ID) (client, server hsResult) {
	ch := make(chan hsResult, 1)
	go func() {
		c, err := Server(ctx, rawS, sc)
		ch <- hsResult{c, err}
	}()
	c, err := Client(ctx, rawC, cc, expected)
	return hsResult{c, err}, <-ch
}

// securePair returns a connected client and server over loopback TCP, both
// closed when the test ends.
func securePair(t testing.TB, cc, sc *SecureConfig) (client, server *EncryptedConn) {
	t.Helper()
	rawC, rawS := tcpPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, s := handshakePair(ctx, rawC, rawS, cc, sc, crypto.ID{})
	if c.err != nil || s.err != nil {
		if c.c != nil {
			c.c.Close()
		}
		if s.c != nil {
			s.c.Close()
		}
		t.Fatalf("handshake: client %v, server %v", c.err, s.err)
	}
	t.Cleanup(func() { c.c.Close(); s.c.Close() })
	return c.c, s.c
}
