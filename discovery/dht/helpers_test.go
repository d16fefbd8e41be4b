package dht

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/peerwire/peerwire/crypto"
)

// memNet is an in-memory network of DHT nodes: a request reaches the node
// listening at the address only if its ID matches (the handshake's pin)
// and the network IDs agree (the handshake's network check).
type memNet struct {
	mu    sync.Mutex
	nodes map[netip.AddrPort]*memNode
	msgs  atomic.Uint64
}

type memNode struct {
	net     *memNet
	network string
	key     *crypto.Identity
	addr    netip.AddrPort
	dht     *DHT
	// down makes the node unreachable: its listener is gone (or firewalled).
	down atomic.Bool
}

var errUnreachable = errors.New("memnet: connection refused")

// Request implements Transport.
func (n *memNode) Request(ctx context.Context, to crypto.Address, req []byte) ([]byte, error) {
	ap, ok := to.AddrPort()
	if !ok {
		return nil, fmt.Errorf("memnet: %q is not an IP address", to.Host)
	}
	n.net.mu.Lock()
	peer := n.net.nodes[ap]
	n.net.mu.Unlock()
	n.net.msgs.Add(1)
	if peer == nil || peer.down.Load() {
		return nil, errUnreachable
	}
	if peer.key.ID() != to.ID {
		return nil, errors.New("memnet: handshake: peer ID mismatch")
	}
	if peer.network != n.network {
		return nil, errors.New("memnet: handshake: network mismatch")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return peer.dht.Handle(ctx, n.key.ID(), req)
}

// testKey returns a deterministic identity for index i of a test set.
func testKey(t testing.TB, set, i int) *crypto.Identity {
	t.Helper()
	seed := make([]byte, 32)
	binary.BigEndian.PutUint32(seed, uint32(set))
	binary.BigEndian.PutUint32(seed[4:], uint32(i))
	k, err := crypto.IdentityFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// memAddr returns a distinct public address for node i: each in its own
// /16, so the diversity bounds do not interfere unless a test wants them to.
func memAddr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(20 + i/250), byte(i % 250), 0, 1}), 4000)
}

// add makes a node on the network, not yet started.
func (mn *memNet) add(t testing.TB, network string, key *crypto.Identity, addr netip.AddrPort, mutate func(*Config)) *memNode {
	t.Helper()
	n := &memNode{net: mn, network: network, key: key, addr: addr}
	cfg := Config{Identity: key, Network: network, Transport: n, Mode: ModeServer, Addrs: []netip.AddrPort{addr}}
	if mutate != nil {
		mutate(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.dht = d
	mn.mu.Lock()
	if mn.nodes == nil {
		mn.nodes = map[netip.AddrPort]*memNode{}
	}
	mn.nodes[addr] = n
	mn.mu.Unlock()
	return n
}

func (n *memNode) address() crypto.Address {
	return crypto.Address{ID: n.key.ID(), Host: n.addr.Addr().String(), Port: n.addr.Port()}
}
