package p2p_test

import (
	"context"
	"fmt"
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

// waitConnected waits until n has admitted peer (the dialer returns from
// Dial once it has; the listener admits a moment later).
func waitConnected(n *p2p.Node, peer crypto.ID) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, ok := n.Peer(peer); ok {
			return
		}
	}
	panic("not connected")
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
		waitConnected(link[1], link[0].ID())
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
