package main

import (
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/p2p"
)

// The topics every peerwire command declares, so that nodes started by
// "peerwire node" and the demo interoperate. Priority decides what is sent
// first: a vote never waits behind a block for more than one packet.
const (
	topicConsensus    uint8 = 1
	topicBlocks       uint8 = 2
	topicTransactions uint8 = 3
)

func defaultTopics() []p2p.TopicConfig {
	return []p2p.TopicConfig{
		{TopicConfig: mux.TopicConfig{ID: topicConsensus, Name: "consensus", Priority: 10, MaxMessageSize: 64 << 10}},
		{TopicConfig: mux.TopicConfig{ID: topicBlocks, Name: "blocks", Priority: 5, MaxMessageSize: 4 << 20}},
		// Transactions are small, many, and sent after everything else: a
		// deep queue rides out the seconds a stream of blocks may hold them.
		{TopicConfig: mux.TopicConfig{ID: topicTransactions, Name: "transactions", Priority: 1, MaxMessageSize: 64 << 10, SendQueue: 4096}},
	}
}
