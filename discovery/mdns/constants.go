package mdns

import "time"

// Limits and defaults.
const (
	// DefaultInterval is how often a Service queries the LAN. Ten seconds
	// finds a new node quickly and costs one small multicast packet per
	// node per interval (plus the answers).
	DefaultInterval = 10 * time.Second
	// MinInterval bounds Config.Interval from below: faster querying is a
	// multicast flood on a shared LAN.
	MinInterval = time.Second
	// MaxInterval bounds Config.Interval from above.
	MaxInterval = time.Hour
	// DefaultQueryTimeout is how long each query listens for answers.
	DefaultQueryTimeout = time.Second
	// MinQueryTimeout bounds Config.QueryTimeout from below.
	MinQueryTimeout = 50 * time.Millisecond
	// ExpireRounds is the number of intervals after which a node heard of
	// no more (and not reached) is forgotten: p2p passes
	// ExpireRounds*Interval to peerbook.Book.ExpireLocal after each round.
	// Three rounds ride out one or two lost multicast packets.
	ExpireRounds = 3

	// MaxTXTAddrs bounds the "ID@host:port" strings in one TXT record,
	// sent and accepted: a node listens on a handful of addresses, and a
	// bigger record is malformed.
	MaxTXTAddrs = 8
	// MaxTXTString is the longest string of a TXT record, in bytes (one
	// length byte on the wire, RFC 1035 §3.3.14).
	MaxTXTString = 255
	// MaxAnswersPerRound bounds the answers taken from one query: the rest
	// are dropped unread. Twice peerbook.MaxLocal, so a forger flooding
	// answers cannot hide every real node from one round.
	MaxAnswersPerRound = 512

	// servicePrefix starts the service label: "_peerwire-" + Tag.
	servicePrefix = "_peerwire-"
	// domain is the mDNS domain.
	domain = "local"
	// maxTagPlain is the longest network ID used as its own tag.
	maxTagPlain = 40
	// tagHashHex is the hex digits of SHA-256 appended to a network ID
	// that is not a plain DNS label: 48 bits, so two networks' tags
	// collide by accident about once in 2^24 pairs (and the handshake
	// refuses the other network anyway).
	tagHashHex = 12
)
