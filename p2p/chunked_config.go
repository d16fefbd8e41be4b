package p2p

// Chunked dissemination's settings and counters (chunked.go is the engine):
// Dissemination, ChunkedConfig with its defaults and checks, ChunkedStats.

import (
	"fmt"
	"sync/atomic"

	"github.com/peerwire/peerwire/crypto"
)

// Dissemination is how Gossip spreads a topic's messages.
type Dissemination uint8

const (
	// Flood sends each message whole to every neighbour (§9.1).
	Flood Dissemination = iota
	// Chunked floods a header and spreads the chunks by push and pull.
	Chunked
)

// ChunkedConfig configures Chunked dissemination; the zero value of each
// field means its default.
type ChunkedConfig struct {
	// Threshold: messages of at least this many bytes go chunked,
	// smaller ones flood. Default DefaultChunkedThreshold.
	Threshold int
	// ChunkSize is the size of the chunks this node cuts its messages
	// into (MinChunkSize–MaxChunkSize). Default DefaultChunkSize.
	ChunkSize int
	// EagerPeers is how many neighbours this node pushes each message's
	// chunks to at most: the first that ask (want), or, for its own
	// messages, ones it picks. Default DefaultEagerPeers.
	EagerPeers int
	// HeaderValidator, if set, decides on a header before the node tracks
	// or forwards it, from what the header says: the neighbour it came
	// from, the origin (whose signature has been checked) and the
	// message's total length. Ignore drops the header without penalty,
	// Reject drops it and lowers from's reputation; either way the message
	// is neither forwarded nor delivered here, and further copies of the
	// header are duplicates. It runs on the connection's reader goroutine
	// and must be quick. The topic's Validator still runs on the whole
	// message before delivery. Default nil: every header is accepted.
	HeaderValidator func(from, origin crypto.ID, total int) ValidationResult
}

// chunkedDefaults checks and fills in the chunked settings of topic i; a
// Chunked topic becomes request/response (pulls are requests) and must be
// signed.
func (tc *TopicConfig) chunkedDefaults(i int) error {
	field := func(name string) string { return fmt.Sprintf("Topics[%d].%s", i, name) }
	switch tc.Dissemination {
	case Flood:
		if tc.Chunked != nil {
			return fieldErr(field("Chunked"), "set on a Flood topic; set Dissemination: Chunked")
		}
		return nil
	case Chunked:
	default:
		return fieldErr(field("Dissemination"), "%d is neither Flood nor Chunked", tc.Dissemination)
	}
	if tc.UnsignedGossip {
		return fieldErr(field("UnsignedGossip"), "a Chunked topic's headers are always signed")
	}
	cc := ChunkedConfig{}
	if tc.Chunked != nil {
		cc = *tc.Chunked
	}
	if cc.Threshold == 0 {
		cc.Threshold = DefaultChunkedThreshold
	}
	if cc.ChunkSize == 0 {
		cc.ChunkSize = min(DefaultChunkSize, tc.MaxMessageSize)
	}
	if cc.EagerPeers == 0 {
		cc.EagerPeers = DefaultEagerPeers
	}
	switch {
	case cc.Threshold < 1:
		return fieldErr(field("Chunked.Threshold"), "%d is below 1", cc.Threshold)
	case cc.ChunkSize < MinChunkSize || cc.ChunkSize > min(MaxChunkSize, tc.MaxMessageSize):
		return fieldErr(field("Chunked.ChunkSize"), "%d outside %d-%d (and the topic's MaxMessageSize)", cc.ChunkSize, MinChunkSize, min(MaxChunkSize, tc.MaxMessageSize))
	case cc.EagerPeers < 0 || cc.EagerPeers > 64:
		return fieldErr(field("Chunked.EagerPeers"), "%d outside 1-64", cc.EagerPeers)
	}
	tc.Chunked = &cc
	if tc.Requests == nil {
		tc.Requests = &RequestConfig{}
	} else if r := tc.Requests.MaxResponseSize; r != 0 && r < cc.ChunkSize {
		return fieldErr(field("Requests.MaxResponseSize"), "%d below Chunked.ChunkSize %d: pulls could not be answered", r, cc.ChunkSize)
	}
	return nil
}

// ChunkedStats counts chunked dissemination since the node started, all
// topics together.
type ChunkedStats struct {
	Originated       uint64 // messages this node sent chunked
	Headers          uint64 // new headers accepted
	HeaderDuplicates uint64 // headers already known
	HeadersRefused   uint64 // new headers over a memory cap, dropped
	HeadersStale     uint64 // headers with a timestamp out of range
	HeadersRejected  uint64 // headers the HeaderValidator rejected or ignored
	Completed        uint64 // messages received whole
	Delivered        uint64 // of them, delivered to the application
	Rejected         uint64 // of them, rejected or ignored by the validator
	Evicted          uint64 // partial messages given up (timeout, cap)

	// PayloadBytes are the chunk bytes received (pushed and pulled,
	// duplicates included): the figure to compare with the message size.
	PayloadBytes      uint64
	ChunksPushed      uint64 // chunks we queued to a neighbour
	PushesSkipped     uint64 // pushes deferred (queue full): resumed as the queue drains
	ChunksReceived    uint64 // new chunks by push
	ChunksPulled      uint64 // new chunks by pull
	ChunkDuplicates   uint64 // chunks received that we had
	ChunksUnknown     uint64 // chunks, haves, dont-wants for messages we do not track
	BadChunks         uint64 // chunks not matching the header's hash (violations)
	Haves             uint64 // have bitmaps sent
	DontWants         uint64 // dont-wants sent
	Cancelled         uint64 // queued pushes withdrawn after a dont-want
	PullsSent         uint64 // pull requests made
	PullsFailed       uint64 // of them, failed (error, timeout): asked elsewhere
	PullsServed       uint64 // pull requests we answered with a chunk
	PullsRefused      uint64 // pull requests for chunks we do not hold or never announced
	UnservedPenalties uint64 // announcers penalised for not serving (refused or silent)
	SilentPenalties   uint64 // of them, for leaving pulls unanswered that others served
}

type chunkedCounters struct {
	originated, headers, headerDups, headersRefused, headersStale   atomic.Uint64
	headersRejected                                                 atomic.Uint64
	completed, delivered, rejected, evicted                         atomic.Uint64
	payloadBytes, pushed, pushSkipped, received, pulled, dups       atomic.Uint64
	unknown, bad, haves, dontWants, cancelled                       atomic.Uint64
	pullsSent, pullsFailed, pullsServed, pullsRefused, unservedPens atomic.Uint64
	silentPens                                                      atomic.Uint64
}

// ChunkedStats returns the node's chunked dissemination counters.
func (n *Node) ChunkedStats() ChunkedStats {
	c := &n.ckst
	return ChunkedStats{
		Originated: c.originated.Load(), Headers: c.headers.Load(), HeaderDuplicates: c.headerDups.Load(),
		HeadersRefused: c.headersRefused.Load(), HeadersStale: c.headersStale.Load(), HeadersRejected: c.headersRejected.Load(),
		Completed: c.completed.Load(), Delivered: c.delivered.Load(), Rejected: c.rejected.Load(), Evicted: c.evicted.Load(),
		PayloadBytes: c.payloadBytes.Load(), ChunksPushed: c.pushed.Load(), PushesSkipped: c.pushSkipped.Load(),
		ChunksReceived: c.received.Load(), ChunksPulled: c.pulled.Load(), ChunkDuplicates: c.dups.Load(),
		ChunksUnknown: c.unknown.Load(), BadChunks: c.bad.Load(), Haves: c.haves.Load(), DontWants: c.dontWants.Load(),
		Cancelled: c.cancelled.Load(), PullsSent: c.pullsSent.Load(), PullsFailed: c.pullsFailed.Load(),
		PullsServed: c.pullsServed.Load(), PullsRefused: c.pullsRefused.Load(), UnservedPenalties: c.unservedPens.Load(),
		SilentPenalties: c.silentPens.Load(),
	}
}
