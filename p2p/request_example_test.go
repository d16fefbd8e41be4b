package p2p_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/p2p"
)

const topicSync = 9

// syncNode makes a loopback node whose topic 9 is request/response: 1 KiB
// requests, 4 MiB responses, 4 requests per peer at once, 5 s timeout.
func syncNode() *p2p.Node {
	id, err := crypto.GenerateIdentity(nil)
	if err != nil {
		panic(err)
	}
	n, err := p2p.New(p2p.Config{
		Identity: id, ListenAddr: "127.0.0.1:0", NetworkID: "example-net", AllowLoopback: true,
		Topics: []p2p.TopicConfig{{
			TopicConfig: mux.TopicConfig{ID: topicSync, Name: "sync", MaxMessageSize: 1 << 10},
			Requests:    &p2p.RequestConfig{MaxResponseSize: 4 << 20, MaxConcurrent: 4, Timeout: 5 * time.Second},
		}},
	})
	if err != nil {
		panic(err)
	}
	if err := n.Start(context.Background()); err != nil {
		panic(err)
	}
	return n
}

// ExampleNode_Request asks a peer for a block by height; the peer's
// handler answers it, or refuses with a code the caller matches.
func ExampleNode_Request() {
	alice, bob := syncNode(), syncNode()
	ctx := context.Background()
	// Bob serves blocks; each request runs on its own goroutine.
	if err := bob.HandleRequests(topicSync, func(ctx context.Context, from crypto.ID, req []byte) ([]byte, error) {
		if string(req) != "42" {
			return nil, &p2p.RequestError{Code: p2p.RequestRefused, Message: "unknown height"}
		}
		return []byte("block 42"), nil
	}); err != nil {
		panic(err)
	}
	if _, err := alice.Dial(ctx, bob.ListenAddr().String()); err != nil {
		panic(err)
	}

	block, err := alice.Request(ctx, bob.ID(), topicSync, []byte("42"))
	fmt.Printf("%s %v\n", block, err)
	_, err = alice.Request(ctx, bob.ID(), topicSync, []byte("43"))
	var re *p2p.RequestError
	fmt.Println(errors.Is(err, p2p.ErrRequestRefused), errors.As(err, &re) && re.Remote, re.Message)

	alice.Stop(ctx)
	bob.Stop(ctx)
	// Output:
	// block 42 <nil>
	// true true unknown height
}
