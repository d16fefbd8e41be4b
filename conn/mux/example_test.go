package mux_test

import (
	"context"
	"fmt"
	"net"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// Example_multiConn connects two nodes over loopback TCP and sends a vote on
// a high-priority topic. An application would queue each delivered message
// in an inbox per topic and call Done when it takes it from there.
func Example_multiConn() {
	topics := []mux.TopicConfig{
		{ID: 1, Name: "votes", Priority: 10, MaxMessageSize: 64 << 10},
		{ID: 2, Name: "blocks", MaxMessageSize: 64 << 20},
	}
	inbox := make(chan *mux.Message, 1024) // credit bounds what a peer can queue here
	cfg := &mux.Config{Topics: topics, OnMessage: func(m *mux.Message) { inbox <- m }}
	secure := func() *conn.SecureConfig {
		id, _ := crypto.GenerateIdentity(nil)
		return &conn.SecureConfig{Identity: id, NetworkID: "example",
			Meta: &pb.PeerMeta{Topics: mux.TopicIDs(topics)}}
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	ctx := context.Background()
	accepted := make(chan *mux.MultiConn)
	go func() {
		raw, _ := ln.Accept()
		ec, err := conn.Server(ctx, raw, secure())
		if err != nil {
			panic(err)
		}
		mc, err := mux.New(ctx, ec, cfg)
		if err != nil {
			panic(err)
		}
		mc.Start() // admitted: start reading and writing
		accepted <- mc
	}()
	raw, _ := net.Dial("tcp", ln.Addr().String())
	ec, err := conn.Client(ctx, raw, secure(), crypto.ID{})
	if err != nil {
		panic(err)
	}
	dialer, err := mux.New(ctx, ec, cfg)
	if err != nil {
		panic(err)
	}
	dialer.Start()
	listener := <-accepted

	dialer.Send(ctx, 1, []byte("vote for block 42"))
	m := <-inbox
	m.Done() // grant the credit back
	fmt.Printf("topic %d from the dialer: %s\n", m.Topic, m.Data)

	dialer.Close()
	<-listener.Done()
	fmt.Println(listener.Err())
	// Output:
	// topic 1 from the dialer: vote for block 42
	// mux: goaway from peer: shutdown
}
