package lab

import "github.com/peerwire/peerwire/p2p"

// Report is what labnode's GET /stats returns (lab/cmd/labnode), and
// what the lab's tests read.
type Report struct {
	ID, Listen               string
	Peers                    []PeerReport
	Inbound, Outbound        int
	MustConnectUp, MustTotal int
	BookSize, Bans           int
	BlockMode                string
	SentVotes, SentBlocks    uint64
	RecvVotes, RecvBlocks    map[string]uint64 // by origin index
	// BlockPayloadBytes are the block payload bytes received, duplicates
	// included: chunk bytes pushed or pulled in chunked mode
	// (ChunkedStats.PayloadBytes), whole gossip payloads in flood mode
	// (Stats.GossipPayloadBytes, which counts the votes topic's gossip
	// too: run without -vote-every to read it as blocks only).
	BlockPayloadBytes uint64
	// BlockWireBytesIn are the blocks topic's bytes received on the wire
	// (frames, headers, haves, pulls and late answers included).
	BlockWireBytesIn            uint64
	Chunked                     p2p.ChunkedStats
	Dups                        uint64
	Goroutines                  int
	HeapAllocKiB, HeapSysKiB    uint64
	LiveHeapKiB                 uint64 // after a forced GC, with ?gc=1
	Disconnects                 uint64
	Violations, Malformed       uint64
	HandshakeFailures, Refusals map[string]uint64
	GossipForwardDropped        uint64
	Generating                  bool
	DisconnectReasons           []string
}

// PeerReport is one connected peer.
type PeerReport struct {
	ID, Direction, Remote string
	MustConnect           bool
	PingRTTms             float64 // control-topic ping (smoothed)
	AppRTTms              float64 // consensus-topic echo, latest
	AppRTTMaxms           float64
	AppRTTMinms           float64
	AppRTTSamples         bool
	Score                 float64
}
