package p2p

import (
	"time"

	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
)

// Transient connections (transient.go).
const (
	// featureTransient is the protocol feature (docs/PROTOCOL.md §8.7)
	// marking a transient connection: every node advertises it with an
	// empty value (it understands the mark), and the dialer of a
	// connection made only for DHT queries with the value 0x01. Not
	// REQUIRED: a node that does not know it admits the connection as a
	// peer, as before.
	featureTransient uint16 = 0x0001
	// TransientIdleTimeout is how long a transient connection stays open
	// without a DHT request or answer: a lookup sends its next query to a
	// node within a query timeout (2 s), so 10 s keeps one connection
	// for a lookup's several queries and frees it soon after.
	TransientIdleTimeout = 10 * time.Second
)

// Node-level limits and defaults, with their units.
const (
	// PexTopic is the topic ID the node reserves for peer exchange; the
	// application's topics use 1–252.
	PexTopic uint8 = 255
	// DialBackTopic is the request/response topic the node reserves for
	// dial-back verification of its own addresses (dialback.go,
	// docs/PROTOCOL.md §9.6).
	DialBackTopic uint8 = 253
	// pexMaxMessage bounds a PEX message: 32 addresses of ≤ 300 bytes fit easily.
	pexMaxMessage = 64 << 10

	// envelope kinds: the first byte of every message on an application topic.
	kindDirect byte = 0x00
	kindGossip byte = 0x01
	// gossipOverhead is what an envelope adds to a payload at most: kind,
	// hops, origin, nonce, key, signature and protobuf tags.
	gossipOverhead = 256

	// inboxBufferBytes and maxInboxBuffer size a topic's inbox channel:
	// for a topic of messages up to 64 KiB it buffers up to
	// maxInboxBuffer messages, and the credit of those in it returns while
	// their Data totals at most inboxBufferBytes (inboxLedger; the one
	// message beyond waits with its credit held); for larger messages as
	// many of the topic's largest as fit in inboxBufferBytes, none over
	// 1 MiB (inboxBuffer, ledgerMinBuffer). So this is what a topic
	// may hold beyond its peers' credit (1 MiB of Data, plus up to 1,024
	// Messages of 144 bytes: 144 KiB); in exchange
	// the connection's reader puts small messages into the channel itself
	// and the topic's goroutine hands them over without waiting for the
	// application to take each one (issue 13: the unbuffered hand-off cost
	// a goroutine switch per 256-byte message, and a buffer of 16 for a
	// 64 KiB topic sent nearly every 256-byte one through that goroutine).
	inboxBufferBytes = 1 << 20
	maxInboxBuffer   = 1024

	// DefaultHopLimit is how many hops a gossip message travels at most.
	DefaultHopLimit = 10
	// DefaultSeenCacheSize bounds remembered gossip IDs (16 bytes each plus map overhead).
	DefaultSeenCacheSize = 100_000
	// DefaultSeenTTL is how long a gossip ID is remembered; longer than any
	// message takes to cross the network, and at least DefaultGossipMaxAge
	// + DefaultGossipMaxSkew so a message is remembered for as long as its
	// timestamp is acceptable.
	DefaultSeenTTL = 2 * time.Minute
	// DefaultGossipMaxAge is the oldest origin timestamp accepted: a
	// message older than this is a replay (or badly delayed) and is
	// dropped. Crossing the network takes seconds; 90 s leaves room.
	DefaultGossipMaxAge = 90 * time.Second
	// DefaultGossipMaxSkew is how far ahead of our clock an origin
	// timestamp may be: NTP keeps honest clocks within a second; 30 s
	// tolerates a badly set one without letting a message live long.
	DefaultGossipMaxSkew = 30 * time.Second

	// MinPingInterval is the shortest keepalive interval a node may use: a
	// MultiConn accepts one inbound ping per second (mux.DefaultPingRate).
	MinPingInterval = time.Second
	// seedLinger is how long a seed keeps a peer that never asks for (or
	// never sends) addresses, so neither side's slot is held for long. The
	// maintain service checks it, within MaintainInterval.
	seedLinger = 10 * time.Second
	// seedHoldMax is the longest a seed whose visits keep teaching us
	// nothing is held back from the fill (seedhold.go).
	seedHoldMax = 5 * time.Minute
	// maxSeedHolds bounds the seeds held back at once; a peer only has to
	// claim the seed role to be counted.
	maxSeedHolds = 256

	// MaxListenAddrs bounds Config.ListenAddrs: a handshake carries at most
	// 8 advertised addresses (conn's limit on PeerMeta.listen_addrs), and
	// 4 listeners leave room for -advertise entries and a NAT mapping.
	MaxListenAddrs = 4

	// maxDialBackQueue bounds the dial-backs waiting to verify inbound
	// peers' adverts (reach.go), run one at a time: a burst of inbound
	// peers (a seed's morning) costs at most one extra handshake at a
	// time, and 64 pending cover a full inbound set.
	maxDialBackQueue = 64

	// DefaultMaxInbound and DefaultMaxOutbound bound connected peers.
	DefaultMaxInbound  = 40
	DefaultMaxOutbound = 10
	// DefaultDialTimeout bounds one TCP dial.
	DefaultDialTimeout = 5 * time.Second
	// DefaultResolveTimeout bounds one DNS lookup before a dial: the stub
	// resolver's own default per-query timeout (resolv.conf(5)); a lookup
	// slower than that has failed.
	DefaultResolveTimeout = 5 * time.Second
	// maxResolvedAddrs is how many answers of one lookup are kept, checked
	// and dialable; the rest are dropped unread. A peer address names one
	// node, and 8 covers a dual-stack host with several interfaces while
	// bounding the checks one dial costs.
	maxResolvedAddrs = 8
	// DefaultMaxConcurrentDials bounds dials in flight.
	DefaultMaxConcurrentDials = 8
	// DefaultDialRate is how many dials per second the node starts at most.
	DefaultDialRate = 10
	// DefaultMaxHandshakes bounds inbound handshakes in flight, so a flood of
	// strangers that never finish costs a bounded number of goroutines.
	DefaultMaxHandshakes = 64

	// DefaultFillInterval is how often the node tops up its outbound peers.
	DefaultFillInterval = 2 * time.Second
	// DefaultPexInterval is how often the node asks a random peer for
	// addresses while it is below its outbound target.
	DefaultPexInterval = 10 * time.Second
	// DefaultPexAnswerInterval is the average time between two PEX answers
	// to one peer (Config.PexAnswerInterval).
	DefaultPexAnswerInterval = 5 * time.Second
	// pexAnswerBurst is how many PEX requests of one peer are answered at
	// once, beyond one per PexAnswerInterval: requests sent an interval
	// apart can arrive together, queued behind other traffic or delayed
	// by a busy host, and an honest peer was once banned for it (seven
	// "too soon" arrivals during 1 MiB streams at load 11 under -race,
	// TestMessageReleaseReusesBuffers).
	pexAnswerBurst = 4
	// DefaultChurnInterval is how often one book entry is probed.
	DefaultChurnInterval = 30 * time.Second
	// DefaultSaveInterval is how often the book is saved.
	DefaultSaveInterval = time.Minute
	// DefaultMaintainInterval drives reputation decay, trimming and
	// must-connect redials.
	DefaultMaintainInterval = time.Second
	// DefaultStatusInterval is how often the one-line status is logged.
	DefaultStatusInterval = 30 * time.Second
	// DefaultNoPeersWarn: a node alone for five minutes is cut off (its
	// bootstrap peers unreachable, its book stale), not between two dials.
	DefaultNoPeersWarn = 5 * time.Minute
	// healthCheckEvery is how often, in real time, the node checks how
	// long it has had no peers (twice per NoPeersWarn when that is
	// shorter): a warning is at most this late.
	healthCheckEvery = 5 * time.Second
	// dialWarnEvery is the least time between two warnings about failed
	// dials to one bootstrap or must-connect address (they are redialed
	// every few seconds); the failures in between are counted in the next.
	dialWarnEvery = time.Minute
	// maxDialWarnAddrs bounds the addresses the dial warnings track; they
	// come from the operator's bootstrap and must-connect lists.
	maxDialWarnAddrs = 1024
	// DefaultStopTimeout bounds a graceful Stop when its context has no deadline.
	DefaultStopTimeout = 5 * time.Second

	// MaxBanDuration is the longest ban the node makes or accepts (Ban,
	// BanIP, automatic bans, the admin API): the cap of the peer book,
	// which owns bans, checked before anything is written.
	MaxBanDuration = peerbook.MaxBanDuration

	// DefaultIPBanAfter and DefaultIPBanWindow: three identities banned
	// from one address within a day is no accident, and a day is longer
	// than a score ban (1 h by default), so a returning attacker is counted.
	DefaultIPBanAfter  = 3
	DefaultIPBanWindow = 24 * time.Hour
	// MaxIPBanAfter bounds Config.IPBanAfter: each tracked address keeps
	// that many ban times.
	MaxIPBanAfter = 100
	// maxStrikeAddrs bounds the addresses whose recent ID bans are
	// remembered for automatic IP bans (at most MaxIPBanAfter times of 24
	// bytes each); beyond it the address struck longest ago is forgotten.
	maxStrikeAddrs = 4096
	// strikeBits6 is the IPv6 prefix one automatic IP ban covers: a /64 is
	// what one host or LAN is given, so banning one address of it is moot.
	strikeBits6 = 64

	// keyFileName and bookFileName live in Config.DataDir.
	keyFileName  = "node.key"
	bookFileName = "peerbook.json"
	// eventBuffer is each subscriber's event queue; a subscriber that falls
	// further behind misses events and its Dropped count says how many.
	eventBuffer = 256
)

// The peer book is the peer set's one store of bans.
var _ peerset.BanList = (*peerbook.Book)(nil)

// Request/response (request.go, docs/PROTOCOL.md §9.4): the envelope kinds
// after direct (0x00) and gossip (0x01), and the limits of the exchange.
const (
	kindRequest  byte = 0x02
	kindResponse byte = 0x03
	kindError    byte = 0x04
	kindCancel   byte = 0x05

	// rrHeader is the longest request/response header: kind, 8-byte ID and
	// a 4-byte timeout (a request's); well inside gossipOverhead, the room
	// the multiplexer's bound leaves above a topic's largest body.
	rrHeader = 1 + 8 + 4
	// MaxRequestErrorText bounds the text of an error response, in bytes:
	// a reason for a log line, not a payload.
	MaxRequestErrorText = 256

	// DefaultRequestTimeout is how long a request waits for its answer when
	// the caller's context has no deadline, and the longest a handler runs
	// on this node; block-sized answers cross a slow link well within it.
	DefaultRequestTimeout = 10 * time.Second
	// MaxRequestTimeout bounds RequestConfig.Timeout and any timeout stated
	// on the wire (a uint32 of milliseconds would allow 49 days).
	MaxRequestTimeout = 10 * time.Minute
	// DefaultMaxConcurrentRequests is how many requests of one peer on one
	// topic a node handles at once; more are refused "overloaded".
	DefaultMaxConcurrentRequests = 8
	// MaxConcurrentRequestsLimit bounds RequestConfig.MaxConcurrent: each
	// slot may hold a goroutine and a request's bytes.
	MaxConcurrentRequestsLimit = 1024

	// requestLateMemory is how long the ID of a request that timed out or
	// was cancelled is remembered, so its late answer is counted, not
	// punished as an answer to a request never made. An answer later than
	// this is from a peer that is broken anyway.
	requestLateMemory = time.Minute
	// maxLateRequestIDs bounds the remembered IDs per connection (8 bytes
	// and a time each); past it the oldest is forgotten first.
	maxLateRequestIDs = 4096

	// overloadAllowRate and overloadAllowBurst bound the "overloaded"
	// refusals a peer may provoke without penalty, per second and in a
	// burst: an honest caller that respects the topic's concurrency limit
	// provokes none (a node's own Request waits for a slot), and a rare
	// one follows a cancellation the handler had not yet seen. Each
	// refusal beyond the bucket is a rate excess (peerset.EventRateExceeded).
	overloadAllowRate  = 1.0
	overloadAllowBurst = 32

	// DeltaRequestAnswered is the most an answer in time raises the peer's
	// score (an instant answer; one at the deadline raises it by 0): 1,000
	// prompt answers are worth one gossip violation, so serving well
	// rebuilds a reputation slowly and cannot outweigh misbehaviour.
	DeltaRequestAnswered = 0.01
	// DeltaRequestTimeout is what a request that went unanswered until its
	// deadline costs the peer: 100 of them in a decay half-life reach the
	// ban threshold, so a peer that stops answering is replaced.
	DeltaRequestTimeout = -1.0
	// rewardBatch is the least reward reported to the peer set at once:
	// it rounds scores within 0.01 of 0 to 0, which would swallow each
	// answer's reward alone.
	rewardBatch = 0.1
	// minPenalizedTimeout is the shortest wait whose expiry costs the peer:
	// a deadline shorter than this is the caller's choice, not the peer's
	// fault.
	minPenalizedTimeout = 100 * time.Millisecond
)

// Dial-back verification (dialback.go, docs/PROTOCOL.md §9.6).
const (
	// DialBackPeers is how many connected peers, each in its own network
	// group (IPv4 /16, IPv6 /48, of its connection IP), a check asks about
	// each candidate address.
	DialBackPeers = 3
	// DialBackQuorum is how many of them must agree: a candidate is
	// verified when this many reached it, unreachable when this many
	// answered and none reached it. One peer alone never decides.
	DialBackQuorum = 2
	// DialBackPerPeerPerMinute is how many dial-backs a node does for one
	// peer per minute: a check asks each peer once per candidate, and a
	// node has at most maxDialBackCandidates.
	DialBackPerPeerPerMinute = 4
	// DialBackTotalPerMinute is how many dial-backs a node does per minute
	// for all its peers together, so its peers cannot use it to open many
	// connections even at their own IPs.
	DialBackTotalPerMinute = 32
	// DeltaDialBackThirdParty is the score of a peer that asks for a
	// dial-back to an IP other than its connection's: an attempt to use
	// the node to scan a third party.
	DeltaDialBackThirdParty = -20.0
	// reachabilityInterval is how often the node re-checks its
	// reachability once it has a verdict.
	reachabilityInterval = 15 * time.Minute
	// reachabilityRetry is how soon the node checks again while its
	// verdict is unknown (too few peers answered), and the delay of the
	// first check after Start.
	reachabilityRetry = 30 * time.Second
	// reachabilityMinGap is the least time between two of the node's own
	// checks (a kick waits for it): with at most maxDialBackCandidates
	// requests to a peer per check, 4 checks a minute stay within a
	// peer's DialBackPerPeerPerMinute for a node with one candidate.
	reachabilityMinGap = 15 * time.Second
	// maxDialBackCandidates bounds the addresses one check tests.
	maxDialBackCandidates = 4
	// dialBackTimeout bounds one dial-back request, the responder's dial
	// and handshake included (DefaultDialTimeout + the handshake's 10 s,
	// with room).
	dialBackTimeout = 20 * time.Second
	// dialBackMaxMessage bounds a message of DialBackTopic: the largest is
	// an error response (9-byte header, a code and MaxRequestErrorText).
	dialBackMaxMessage = 9 + 1 + MaxRequestErrorText
)

// Chunked dissemination (chunked.go, docs/PROTOCOL.md §9.9).
const (
	// The envelope kinds of chunked dissemination.
	kindChunkHeader byte = 0x06
	kindChunk       byte = 0x07
	kindHave        byte = 0x08
	kindDontWant    byte = 0x09
	kindWant        byte = 0x0a

	// DefaultChunkSize is a chunk's size: small enough that a chunk is
	// verified and forwarded long before the whole message arrives
	// (pipelining), large enough that a 16 MiB message has 256 chunks and
	// its header 8 KiB of hashes. As CometBFT's block parts.
	DefaultChunkSize = 64 << 10
	// MinChunkSize and MaxChunkSize bound a header's chunk size, so a
	// header cannot make a node track millions of tiny chunks or hold one
	// huge one.
	MinChunkSize = 1 << 10
	MaxChunkSize = 1 << 20
	// MaxChunks bounds a header's chunk list: 4096 hashes are 128 KiB.
	MaxChunks = 4096
	// DefaultChunkedThreshold: messages from this size go chunked on a
	// Chunked topic; below it, one chunk would cost more than flooding.
	DefaultChunkedThreshold = 64 << 10

	// DefaultEagerPeers is how many neighbours a node pushes each
	// message's chunks to at most: those that learnt the header from it
	// (its children in the header's tree), so nearly every node has one
	// pusher and receives each chunk about once; the others pull. Four
	// bounds what the origin, whose neighbours are all its children,
	// uploads at once.
	DefaultEagerPeers = 4
	// chunkTick is how often a node sends have-announcements that changed
	// and starts pulls: the rate limit of announcements (one per message
	// per neighbour per tick at most).
	chunkTick = 10 * time.Millisecond
	// pullGrace is how long a node waits, after a chunk was first
	// announced to it, for a push before it pulls the chunk.
	pullGrace = 20 * time.Millisecond
	// pushIdle: while its pusher sent a chunk this recently, a node pulls
	// nothing (a pull would race the push); a pusher idle longer is told
	// dont-want and the node pulls the rest. On the 50-node graph with 20
	// messages in flight a pusher is often busy with other messages' chunks
	// for longer than 150 ms: at 150 ms three quarters of the chunks were
	// pulled, at 500 ms under a third, at half the p50 latency.
	pushIdle = 500 * time.Millisecond
	// pullTimeout is one pull's timeout; then the chunk is asked from
	// another announcer.
	pullTimeout = 2 * time.Second
	// maxPullsPerMessage bounds the pulls in flight for one message,
	// maxPullsPerPeer those to one neighbour (below the topic's
	// MaxConcurrent, all messages together) and maxPullsInFlight all of a
	// node's: a pull's answer waits behind the chunks queued to us on that
	// link, and more pulls than the links carry in a pull timeout only time
	// out and are asked again, a retry storm.
	maxPullsPerMessage = 16
	maxPullsPerPeer    = 4
	maxPullsInFlight   = 32
	// parentWait is how long a node waits at most for the neighbour that
	// sent it a header (and its want) to push or announce before it pulls
	// from others.
	parentWait = time.Second
	// silentAfter: an announcer that left this many pulls of a message's
	// chunks unanswered (each for pullTimeout) while others served those
	// chunks, and never answered a pull of ours on its connection, is
	// silent, not busy: asked nothing more of the message and penalised.
	// Without the last condition, on the 50-node bench at load 11 honest
	// nodes were marked silent in 388 messages (pulls time out behind the
	// chunks queued on the same link); two, not one, so that a peer whose
	// first answer is late is not judged on it alone.
	silentAfter = 2
	// pullRetry is how long a chunk waits before it is asked again of
	// announcers that all failed it.
	pullRetry = 200 * time.Millisecond

	// maxChunkedMessages bounds the messages a topic tracks at once
	// (partial, and complete ones kept to serve pulls), and
	// maxChunkedPerPeer those whose header one peer brought first, so a
	// flood of valid-looking headers with new IDs is bounded.
	maxChunkedMessages = 64
	maxChunkedPerPeer  = 16
	// maxChunkedBytes bounds the chunk bytes a topic holds.
	maxChunkedBytes = 512 << 20
	// chunkedRetain is how long a complete message is kept to serve
	// pulls; partialTimeout how long a partial one may take to complete.
	chunkedRetain  = 10 * time.Second
	partialTimeout = 60 * time.Second
)
