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

// Block gossip modes, the values of -block-gossip: how the blocks topic
// spreads its messages (p2p.TopicConfig.Dissemination). Every node of a
// network must use the same one.
const (
	blockGossipChunked = "chunked" // announce, push to a few, pull the rest (PROTOCOL.md §9.9)
	blockGossipFlood   = "flood"   // every block to every neighbour (§9.1)
)

// blockGossipUsage is the help text of -block-gossip.
const blockGossipUsage = "how blocks spread: chunked (a signed header floods; its 64 KiB chunks are pushed to a few neighbours and pulled by the rest, so a block crosses each link about once) or flood (every block to every neighbour); every node of a network must use the same: a peer that differs is refused when it connects"

// parseBlockGossip turns a -block-gossip value into a dissemination mode.
func parseBlockGossip(flagName, v string) (p2p.Dissemination, error) {
	switch v {
	case blockGossipChunked:
		return p2p.Chunked, nil
	case blockGossipFlood:
		return p2p.Flood, nil
	}
	return 0, flagError(flagName, "%q: want %s or %s", v, blockGossipChunked, blockGossipFlood)
}

// defaultTopics are the topics, with blocks spread as blocks says.
func defaultTopics(blocks p2p.Dissemination) []p2p.TopicConfig {
	return []p2p.TopicConfig{
		{TopicConfig: mux.TopicConfig{ID: topicConsensus, Name: "consensus", Priority: 10, MaxMessageSize: 64 << 10}},
		{TopicConfig: mux.TopicConfig{ID: topicBlocks, Name: "blocks", Priority: 5, MaxMessageSize: 4 << 20}, Dissemination: blocks},
		// Transactions are small, many, and sent after everything else: a
		// deep queue rides out the seconds a stream of blocks may hold them.
		{TopicConfig: mux.TopicConfig{ID: topicTransactions, Name: "transactions", Priority: 1, MaxMessageSize: 64 << 10, SendQueue: 4096}},
	}
}
