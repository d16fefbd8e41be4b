package p2p

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/nat"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
	"github.com/peerwire/peerwire/proto/pb"
)

// ValidationResult is a gossip validator's verdict on a message.
type ValidationResult uint8

// Validator verdicts.
const (
	// Accept delivers the message and forwards it.
	Accept ValidationResult = iota
	// Ignore drops the message without penalty: neither delivered nor forwarded.
	Ignore
	// Reject drops the message and lowers the sender's reputation.
	Reject
)

// Validator decides what happens to a gossip message before it is delivered
// or forwarded. It runs on the topic's own goroutine, one message at a
// time, and should be quick. from is the peer that relayed it.
type Validator func(from crypto.ID, origin crypto.ID, data []byte) ValidationResult

// TopicConfig declares an application topic: the multiplexer's topic
// declaration (mux.TopicConfig: ID, name, priority, sizes, queues, credit,
// inbound rate; the zero value of each optional field means the default
// documented there) and what the node adds on top of it (a validator,
// unsigned gossip). The embedded fields mean what conn documents, with two
// node-level rules: ID is 1–252 (253 is the node's dial-back topic, 254 its DHT topic, 255 its PEX topic), and
// MaxMessageSize bounds one application message — the node adds its gossip
// envelope on the wire, so the multiplexer's bound is larger by that.
type TopicConfig struct {
	mux.TopicConfig
	// Validator, if set, judges gossip on this topic.
	Validator Validator
	// UnsignedGossip turns off gossip signatures on this topic. By default
	// the origin signs each gossip message and every node verifies the
	// signature before delivering or forwarding, so no peer can claim
	// another origin or alter what it forwards; that costs one Ed25519
	// signature per message at the origin and one verification per node
	// (docs/BENCHMARKS.md). With UnsignedGossip set, messages go out
	// unsigned, unsigned ones are accepted, and a delivered Message's
	// Origin is only what the relay claimed (OriginVerified is false).
	// Every node of a network must agree on this setting per topic: a
	// signing node refuses unsigned gossip as malformed.
	UnsignedGossip bool
	// Requests, if set, makes the topic request/response as well
	// (request.go, Node.Request, Node.HandleRequests): its sizes,
	// concurrency and timeout. Nil: no requests on this topic.
	Requests *RequestConfig
	// Dissemination chooses how Gossip spreads this topic's large
	// messages: Flood (the default) or Chunked (chunked.go,
	// docs/PROTOCOL.md §9.9), configured by Chunked.
	Dissemination Dissemination
	// Chunked configures Chunked dissemination; nil means its defaults.
	Chunked *ChunkedConfig
}

// Config configures a Node. The zero value of every field except NetworkID
// and Topics means its documented default. New copies what it needs.
type Config struct {
	// Identity is the node's key. If nil, the key file DataDir/node.key is
	// loaded, or created on first run.
	Identity *crypto.Identity
	// DataDir holds the key file and the peer book (peerbook.json). If empty,
	// nothing is persisted and Identity is required. New creates it, mode
	// 0700, when missing.
	DataDir string

	// ListenAddr is the TCP address to listen on. Default "0.0.0.0:26656";
	// use "127.0.0.1:0" in tests. "-" means do not listen. It is the
	// one-address form of ListenAddrs, kept: set one or the other.
	ListenAddr string
	// ListenAddrs are several TCP addresses to listen on, all accepting
	// (at most MaxListenAddrs), e.g. "0.0.0.0:26656" and "[::]:26656":
	// with more than one, an IPv6 literal binds IPv6 only and an IPv4 one
	// IPv4 only, so both wildcards can share a port. Node.ListenAddr is
	// the first; without AdvertiseAddrs, each one bound to a specific
	// address is advertised.
	ListenAddrs []string
	// AdvertiseAddrs are the "host:port" addresses peers should dial us at,
	// sent in the handshake. Default: the listen addresses that are not
	// unspecified (0.0.0.0 or ::).
	AdvertiseAddrs []string
	// DialLocalIP, if valid, is the local address outbound connections are
	// bound to (tests use distinct 127.0.0.x addresses).
	DialLocalIP netip.Addr

	// NetworkID names the network; required. ChainID names the chain.
	NetworkID, ChainID string
	// Role is this node's role, told to peers.
	Role pb.NodeRole
	// SoftwareVersion is told to peers; at most 64 bytes.
	SoftwareVersion string
	// Topics are the application's topics; at least one.
	Topics []TopicConfig

	// DHT turns on the Kademlia DHT (package discovery/dht) and sets its
	// mode; the zero value is off. Its lookups feed the book (source
	// dht), never the peer set; it declares topic DHTTopic (254).
	DHT DHTConfig

	// Bootstrap peers, "ID@host:port" or plain "host:port". A plain address
	// is weaker: the identity is learned at the handshake and then pinned in
	// the book, so the first connection trusts whoever answers there.
	// A seed among them (or in the book) whose visit taught the node no
	// new address is not dialed again for FillInterval, doubling per such
	// visit up to 5 minutes; a visit that teaches something ends that.
	Bootstrap []string
	// MustConnect peers, "ID@host:port": dialed at start, redialed forever,
	// exempt from caps, trimming, churn and automatic bans.
	//
	// Bootstrap and MustConnect hosts may be DNS names: the operator's names
	// are always dialed, whatever Book.AllowNetworkNames says. Each dial
	// resolves the name once and checks every address it resolves to (the
	// filter's rules, IP bans, and for bootstrap peers the caps and the
	// peer set's limits) before dialing exactly a checked address.
	MustConnect []string

	// AllowLoopback, AllowPrivate and AllowNetworkNames are operator
	// intents that span components; the node spreads each to the parts it
	// concerns, adding to (never turning off) what the sub-configs say.
	//
	// AllowLoopback admits loopback addresses (127.0.0.0/8, ::1): the book
	// keeps them (Book.AllowLoopback), the filter exempts them from its caps
	// and throttle (Filter.ExemptLoopback), and, since every loopback
	// address is in one network group, the peer set's per-group outbound
	// limit is off unless Peers.MaxOutboundPerGroup sets one. For local and
	// test networks; public nodes leave it off.
	AllowLoopback bool
	// AllowPrivate admits private addresses (RFC 1918, RFC 6598,
	// fc00::/7): the book keeps them (Book.AllowPrivate) and the filter
	// exempts them from its caps and throttle (Filter.ExemptPrivate).
	AllowPrivate bool
	// AllowNetworkNames admits DNS names learned from peers (PEX, inbound
	// adverts): the book keeps them and the node dials them, resolving
	// each once (Book.AllowNetworkNames). Off by default.
	AllowNetworkNames bool

	// Peers configures limits, watermarks and reputation (peerset.Config).
	// The node joins Config.MustConnect to Peers.MustConnect; the set's
	// wiring (peerset.Deps: own ID, clock, logger, counter, bans) is the
	// node's.
	// Peers.MaxInbound and MaxOutbound: 0 means the default (40, 10), -1
	// none; "peerwire node -max-inbound/-max-outbound" mean the same.
	Peers peerset.Config
	// Filter configures admission rules (filter.Config); its clock and logger
	// (filter.Deps) are the node's.
	Filter filter.Config
	// Book configures the peer book (peerbook.Config); what it is wired to
	// (peerbook.Deps: the node's ID, filter, clock and logger) is the
	// node's. Book.AllowNetworkNames is the operator's switch for DNS names
	// learned from peers (off by default).
	Book peerbook.Config

	// Resolver looks up DNS names before a dial. It is wiring, like Logger:
	// nil means net.DefaultResolver. Each dial of a name resolves it once,
	// checks every address it returns and dials exactly a checked one.
	Resolver Resolver
	// ResolveTimeout bounds one name lookup. Default 5 s.
	ResolveTimeout time.Duration

	// HandshakeTimeout bounds a handshake. Default 5 s.
	HandshakeTimeout time.Duration
	// PingInterval, IdleTimeout, SendRate, RecvRate and MaxPacketPayload
	// configure every connection; see mux.Config for defaults.
	// PingInterval must be at least MinPingInterval (1 s): peers accept one
	// ping per second, and faster pinging is a ping flood to them.
	PingInterval     time.Duration
	IdleTimeout      time.Duration
	SendRate         int
	RecvRate         int
	MaxPacketPayload int
	// Features are the application's capabilities (IDs
	// mux.FirstAppFeature-0xffff) advertised to every peer
	// (docs/PROTOCOL.md §8.7): one both sides list is in use
	// (PeerInfo.Conn.Features); one marked Required refuses a peer that
	// does not list it, on both sides, with an *IncompatibleError naming it.
	Features []Feature
	// CreditStallTimeout cuts off a peer that returned no credit on a topic
	// we have messages queued for, for this long (mux.Config): it
	// would pin our send queue for ever. The peer loses reputation
	// (peerset.EventCreditStall); a must-connect one is redialed, never
	// banned. Default IdleTimeout; negative turns it off.
	CreditStallTimeout time.Duration

	// DialTimeout bounds one TCP dial. Default 5 s.
	DialTimeout time.Duration
	// MaxConcurrentDials bounds dials in flight. Default 8.
	MaxConcurrentDials int
	// DialRate bounds dials started per second, with a burst of
	// max(1, DialRate), measured on Clock. Default 10.
	DialRate float64
	// MaxHandshakes bounds inbound handshakes in flight. Default 64. When
	// the slots open to anyone are all taken, a new connection takes the
	// slot of the oldest one still in its handshake, which is closed, so
	// connections that never finish a handshake cannot hold the slots
	// against an honest peer; a connection is refused only when every
	// slot belongs to a peer that has finished its handshake.
	MaxHandshakes int
	// ReservedHandshakes of those slots are kept for addresses the book
	// knows (peers reached before, must-connect peers: Book.KnownIP), at
	// most two per address, so a flood of strangers that hold handshakes
	// open cannot lock out the peers the node already trusts. A known
	// address takes a reserved slot first and an open one when none is
	// free. Default a quarter of MaxHandshakes; it must be below
	// MaxHandshakes; negative reserves none.
	ReservedHandshakes int

	// FillInterval, PexInterval, ChurnInterval, SaveInterval,
	// MaintainInterval and StatusInterval pace the node's services;
	// defaults in constants.go. A negative ChurnInterval or StatusInterval
	// turns that service off.
	FillInterval     time.Duration
	PexInterval      time.Duration
	ChurnInterval    time.Duration
	SaveInterval     time.Duration
	MaintainInterval time.Duration
	StatusInterval   time.Duration
	// NoPeersWarn is how long the node may go without a connected peer
	// before it logs a warning (again every NoPeersWarn while it lasts)
	// and Health reports it degraded. Default DefaultNoPeersWarn; negative
	// turns both off.
	NoPeersWarn time.Duration
	// PexAnswerInterval is the average time between two PEX answers to
	// one peer: up to 4 requests are answered at once (requests sent
	// apart may arrive together), and requests beyond that rate are a rate
	// excess, unanswered. Default 5 s.
	PexAnswerInterval time.Duration
	// SeedMode makes the node crawl: it dials book entries, asks each for
	// addresses, answers PEX requests, and disconnects peers once done.
	SeedMode bool

	// IPBanAfter is how many identities banned automatically (by score)
	// while connected from one IPv4 address, or one IPv6 /64, within
	// IPBanWindow make the node ban that address (or /64) too, for as long
	// as the last of those ID bans: a banned peer cannot return with a
	// fresh key. Never for an address of a must-connect peer. Zero means
	// DefaultIPBanAfter (3); negative turns automatic IP bans off; at most
	// MaxIPBanAfter.
	IPBanAfter int
	// IPBanWindow is the window of IPBanAfter. Zero means
	// DefaultIPBanWindow (24 h); at most MaxBanDuration.
	IPBanWindow time.Duration

	// HopLimit bounds how far gossip travels. Default 10.
	HopLimit int
	// SeenCacheSize bounds remembered gossip IDs. Default 100,000. Each
	// connected peer may hold at most an equal share of it (the node itself
	// counting as one more), and an ID stays until SeenTTL ends: a peer
	// flooding fresh IDs cannot push out others. Gossip from a peer over
	// its share is dropped (Stats.GossipSeenRefused); other peers bring the
	// same message. Size it for the network's peak rate of new messages ×
	// SeenTTL (the default takes 830 messages/s): beyond that, new messages
	// are refused rather than remembered too briefly to stop replays.
	SeenCacheSize int
	// SeenTTL is how long a gossip ID is remembered. Default 2 min; at
	// least GossipMaxAge + GossipMaxSkew, so a message is remembered for as
	// long as its timestamp is acceptable.
	SeenTTL time.Duration
	// GossipMaxAge is how old a gossip message's origin timestamp may be
	// (by our clock) for the message to be delivered and forwarded; older
	// ones are dropped and counted (Stats.GossipStale). Default 90 s.
	GossipMaxAge time.Duration
	// GossipMaxSkew is how far ahead of our clock an origin timestamp may
	// be; later ones are dropped and counted (Stats.GossipFuture). Default 30 s.
	GossipMaxSkew time.Duration

	// NAT maps the listen port on the router in front of the node (see
	// package nat; nat.Parse builds one from an operator's mode). The node
	// starts it at Start, advertises ID@external in the handshake
	// metadata's listen addresses while the mapping holds (after the
	// configured ones), publishes EventExternalAddress when the address
	// changes, and closes it at Stop, which waits for the mapping's
	// removal. nil means no mapping. The node owns it: a Mapper serves one
	// node, once.
	NAT nat.Mapper

	// MDNS turns on discovery on the local network by multicast DNS
	// (MDNSConfig, mdns.go); off by default.
	MDNS MDNSConfig

	// Logger receives the node's logs; nil means silent.
	Logger *slog.Logger
	// Clock is the node's clock, handed to every component: backoff, bans,
	// TTLs, decay, the dial rate, a seed's linger and the timers of the
	// node's waits, the book (its save interval), the filter (its throttle
	// and database polling), the peer set, the connections (keepalive,
	// credit stall, rekey) and the services' periods. It is wiring, like
	// Logger: nil means RealClock(). Code outside the module implements it
	// with p2p.Clock, Timer and Ticker, or drives it with a FakeClock.
	Clock Clock

	// connClock and serviceClock, set by tests, replace Clock for the
	// connections (mux.Config.Clock, conn.SecureConfig.Clock) and for the
	// services' periods (fill, PEX, maintain, churn, status); nil: Clock.
	// A test drives one part by hand and lets the others keep real time
	// (onFakeClock in the tests). Message.ReceivedAt of direct and gossip
	// messages is read by the connection, so it follows connClock.
	connClock    clock.Clock
	serviceClock clock.Clock
	// healthEvery, set by tests, replaces healthCheckEvery.
	healthEvery time.Duration
	// afterAdmit, set by tests, runs in setupPeer between the set's
	// admission and the connection becoming the peer's current one.
	afterAdmit func(crypto.ID)
	// beforeContact, set by tests, runs in setupPeer once the connection
	// is current, before the book and the events learn of it.
	beforeContact func(*peerConn)
	// beforeServices, set by tests, runs first on the goroutine of each
	// periodic service (every).
	beforeServices func()
	// serviceIdle, set by tests, runs on a periodic service's goroutine
	// each time it starts waiting for its next tick, with the service's
	// name (every).
	serviceIdle func(name string)
	// maxTransient, set by tests, lowers the transient connections
	// allowed per direction below peerset.MaxTransient (transient.go).
	maxTransient int
}
