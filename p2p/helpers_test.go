package p2p

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
)

// Topic IDs used across the tests.
const (
	topicVotes  = 1
	topicBlocks = 2
	topicTxs    = 3
)

func testTopics() []TopicConfig {
	return []TopicConfig{
		{ID: topicVotes, Name: "votes", Priority: 10, MaxMessageSize: 64 << 10},
		{ID: topicBlocks, Name: "blocks", Priority: 5, MaxMessageSize: 4 << 20},
		{ID: topicTxs, Name: "txs", Priority: 1, MaxMessageSize: 64 << 10},
	}
}

func testIdentity(t testing.TB, i int) *crypto.Identity {
	seed := sha256.Sum256([]byte(fmt.Sprintf("node-%d", i)))
	id, err := crypto.IdentityFromSeed(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// testConfig is a loopback node with fast services: many nodes share
// 127.0.0.0/8, so loopback is exempt from caps and groups are unlimited.
func testConfig(t testing.TB, i int) Config {
	return Config{
		Identity:   testIdentity(t, i),
		ListenAddr: "127.0.0.1:0",
		NetworkID:  "test",
		ChainID:    "chain",
		Topics:     testTopics(),
		Peers: peerset.Config{
			MaxOutboundPerGroup: -1,
			MaxInbound:          20,
			MaxOutbound:         4,
			RedialBase:          50 * time.Millisecond,
			RedialMax:           500 * time.Millisecond,
		},
		Filter:            filter.Config{ExemptLoopback: true},
		Book:              peerbook.Config{AllowLoopback: true, BackoffBase: 50 * time.Millisecond, BackoffCap: 500 * time.Millisecond},
		FillInterval:      100 * time.Millisecond,
		PexInterval:       200 * time.Millisecond,
		MaintainInterval:  50 * time.Millisecond,
		PexAnswerInterval: 100 * time.Millisecond,
		ChurnInterval:     -1,
		StatusInterval:    -1,
	}
}

// startNode starts a node and stops it when the test ends.
func startNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop(context.Background()) })
	return n
}

// eventually polls cond until it holds or the deadline passes. It stands
// for waiting on a network outcome, not for synchronisation between
// goroutines of the test: each poll re-reads observable state.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recv reads one message from ch within d.
func recv(t testing.TB, ch <-chan *Message, d time.Duration) *Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("inbox closed")
		}
		return m
	case <-time.After(d):
		t.Fatalf("no message within %v", d)
	}
	return nil
}

func connectedTo(n *Node, id crypto.ID) bool {
	_, ok := n.Peer(id)
	return ok
}
