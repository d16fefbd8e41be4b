package p2p_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/p2p"
)

const (
	topicVotes  = 1
	topicBlocks = 2
)

// exampleNode makes a node on loopback. A real node would set DataDir (key
// file and peer book) instead of Identity, listen on a public address and
// leave the loopback exemptions off.
func exampleNode() *p2p.Node {
	id, err := crypto.GenerateIdentity(nil)
	if err != nil {
		panic(err)
	}
	n, err := p2p.New(p2p.Config{
		Identity:   id,
		ListenAddr: "127.0.0.1:0",
		NetworkID:  "example-net",
		ChainID:    "example-chain",
		Topics: []p2p.TopicConfig{
			{TopicConfig: mux.TopicConfig{ID: topicVotes, Name: "votes", Priority: 10, MaxMessageSize: 64 << 10}},
			{TopicConfig: mux.TopicConfig{ID: topicBlocks, Name: "blocks", Priority: 5, MaxMessageSize: 4 << 20}},
		},
		// Nodes on one host share 127.0.0.0/16: the book keeps loopback
		// addresses, and no per-group, per-IP or per-subnet limits apply
		// between them.
		AllowLoopback: true,
	})
	if err != nil {
		panic(err)
	}
	if err := n.Start(context.Background()); err != nil {
		panic(err)
	}
	return n
}

// Example connects two nodes on loopback, sends a vote from one to the
// other, reads it from the receiver's inbox and stops both.
func Example() {
	alice, bob := exampleNode(), exampleNode()
	ctx := context.Background()

	// Dial takes "ID@host:port" (or "host:port" to learn the ID).
	if _, err := alice.Dial(ctx, bob.ListenAddr().String()); err != nil {
		panic(err)
	}
	if err := alice.Send(ctx, bob.ID(), topicVotes, []byte("vote for block 42")); err != nil {
		panic(err)
	}
	m := <-bob.Inbox(topicVotes)
	fmt.Printf("topic %d from alice: %v\n", m.Topic, m.From == alice.ID())
	fmt.Printf("%s\n", m.Data)

	alice.Stop(ctx)
	bob.Stop(ctx)
	// Output:
	// topic 1 from alice: true
	// vote for block 42
}

// ExampleNode_Gossip floods a block through a line of three nodes: the
// middle node delivers it and forwards it, and the far node, which the
// origin never met, delivers it too, with its origin and the last hop.
func ExampleNode_Gossip() {
	a, b, c := exampleNode(), exampleNode(), exampleNode()
	ctx := context.Background()
	for _, link := range [][2]*p2p.Node{{a, b}, {b, c}} {
		if _, err := link[0].Dial(ctx, link[1].ListenAddr().String()); err != nil {
			panic(err)
		}
		// The dialer returns from Dial once it has admitted the peer; the
		// listener admits it a moment later. Each listener here has only
		// the one peer.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := link[1].WaitPeers(wctx, 1)
		cancel()
		if err != nil {
			panic(err)
		}
	}

	id, _, err := a.Gossip(ctx, topicBlocks, []byte("block 43"))
	if err != nil {
		panic(err)
	}
	atB := <-b.Inbox(topicBlocks)
	atC := <-c.Inbox(topicBlocks)
	fmt.Printf("b: %s, same ID: %v\n", atB.Data, atB.ID == id)
	fmt.Printf("c: %s, origin a: %v, via b: %v\n", atC.Data, atC.Origin == a.ID(), atC.From == b.ID())

	for _, n := range []*p2p.Node{a, b, c} {
		n.Stop(ctx)
	}
	// Output:
	// b: block 43, same ID: true
	// c: block 43, origin a: true, via b: true
}

// ExampleNode_Subscribe watches peers come and go.
func ExampleNode_Subscribe() {
	a, b := exampleNode(), exampleNode()
	ctx := context.Background()
	events := a.Subscribe()

	if _, err := a.Dial(ctx, b.ListenAddr().String()); err != nil {
		panic(err)
	}
	e := <-events.C
	fmt.Println(e.Kind, e.Direction, e.Peer == b.ID())

	b.Stop(ctx) // b says goodbye with a goaway "shutdown"
	e = <-events.C
	fmt.Println(e.Kind, e.Peer == b.ID(), e.Reason)

	a.Stop(ctx)
	_, open := <-events.C
	fmt.Println("closed at Stop:", !open)
	// Output:
	// connected outbound true
	// disconnected true mux: goaway from peer: shutdown: node stopping
	// closed at Stop: true
}

// handleVote stands for the application's vote handling in runNode.
func handleVote(from crypto.ID, data []byte) { _, _ = from, data }

// runNode is the README's "Use it from Go" snippet, verbatim between the
// markers (TestREADMESnippet keeps the two equal), so the README's code
// compiles.
//
// README snippet start
func runNode(ctx context.Context, peerID crypto.ID, vote, block []byte) error {
	node, err := p2p.New(p2p.Config{
		DataDir:    "data", // node.key and peerbook.json; created (0700) when missing
		ListenAddr: "0.0.0.0:26656",
		NetworkID:  "mainnet", ChainID: "chain-1",
		Topics: []p2p.TopicConfig{ // the multiplexer's topic (mux.TopicConfig) + the node's gossip settings
			{TopicConfig: mux.TopicConfig{ID: 1, Name: "consensus", Priority: 10, MaxMessageSize: 64 << 10}},
			{TopicConfig: mux.TopicConfig{ID: 2, Name: "blocks", Priority: 5, MaxMessageSize: 64 << 20}},
			{TopicConfig: mux.TopicConfig{ID: 3, Name: "txs", Priority: 1}, UnsignedGossip: true}, // txs carry their own signatures
		},
		Bootstrap:   []string{"3f1c…e2@seed.example.org:26656"},
		MustConnect: []string{"9ab0…41@10.0.0.7:26656"},
		Logger:      slog.Default(), // nil: silent
	})
	if err != nil {
		return err // errors name the Config field
	}
	if err := node.Start(ctx); err != nil {
		return err
	}
	defer node.Stop(context.Background()) // goaway to peers, book saved, every goroutine ended

	go func() {
		for m := range node.Inbox(1) { // each message once, in order per sender
			handleVote(m.From, m.Data) // m.Gossip: gossiped (Gossip) or sent directly (Send)
		}
	}()
	if err := node.WaitPeers(ctx, 4); err != nil { // returns once 4 peers are connected
		return err
	}
	if err := node.Send(ctx, peerID, 1, vote); err != nil { // waits while the peer's queue is full
		return err
	}
	if _, _, err := node.Gossip(ctx, 2, block); err != nil {
		return err
	}
	node.Report(peerID, -20, "invalid block") // reputation; low scores are banned
	return nil
}

// README snippet end

// Example_readme is the README's snippet (runNode); it needs a real
// network, so it is compiled but not run.
func Example_readme() {
	_ = runNode
}
