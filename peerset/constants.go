package peerset

import "time"

// Defaults applied by Config for zero-valued fields, and the hard limits a
// Config may not exceed.
const (
	// DefaultMaxInbound is the number of inbound peers admitted, not
	// counting must-connect peers. Forty is what a full node on a home
	// connection serves comfortably (one gossip copy per peer).
	DefaultMaxInbound = 40
	// DefaultMaxOutbound is the number of outbound peers admitted, not
	// counting must-connect peers. Ten peers we chose ourselves, from ten
	// network groups, make an eclipse attack cost ten groups.
	DefaultMaxOutbound = 10
	// MaxPeersLimit bounds MaxInbound, MaxOutbound and the watermarks, in
	// peers: far beyond what one process can serve over TCP, small enough
	// that every map and sort in the package stays cheap.
	MaxPeersLimit = 10_000

	// DefaultMaxOutboundPerGroup is the number of outbound peers (not
	// must-connect) allowed per network group: one, so each outbound peer
	// costs an attacker a different /16 (IPv4) or /32 (IPv6).
	DefaultMaxOutboundPerGroup = 1
	// GroupBitsIPv4 is the prefix length of an IPv4 network group: a /16
	// is what one operator can cheaply fill. It matches the peer book.
	GroupBitsIPv4 = 16
	// GroupBitsIPv6 is the prefix length of an IPv6 network group: a /32
	// is the usual allocation to one provider.
	GroupBitsIPv6 = 32

	// highWatermarkPercent derives the default high watermark from
	// MaxInbound+MaxOutbound, and lowWatermarkNumerator/Denominator the
	// default low watermark from the high one: with the default limits (50
	// peers) they are 45 and 40, so a full node keeps freeing a few slots
	// for newcomers and drops its worst peers to do so.
	highWatermarkPercent    = 90
	lowWatermarkNumerator   = 8
	lowWatermarkDenominator = 9

	// DefaultGracePeriod is how long after connecting a peer is spared
	// from trimming: long enough to finish its first exchanges and earn a
	// score, short enough that a flood of newcomers cannot hide behind it.
	DefaultGracePeriod = time.Minute
	// MaxGracePeriod bounds Config.GracePeriod.
	MaxGracePeriod = time.Hour

	// MinScore and MaxScore bound every score. The floor keeps a
	// misbehaving must-connect peer (never banned) recoverable within a
	// few half-lives; the ceiling stops a peer from banking goodwill that
	// would shield later misbehaviour.
	MinScore = -1000.0
	MaxScore = 100.0
	// DefaultBanThreshold is the score at or below which a peer is
	// disconnected and banned: three protocol violations from neutral
	// within a half-life, or twenty rate-limit excesses.
	DefaultBanThreshold = -100.0
	// DefaultBanDuration is how long an automatic (score) ban lasts.
	DefaultBanDuration = time.Hour
	// MaxScoreBans bounds the score bans the Set remembers having made,
	// in entries, so that AddMustConnect can lift them (the bans
	// themselves live in the BanList). At the bound the one ending first
	// is forgotten: its ban stays in force, it is just not lifted.
	MaxScoreBans = 4096

	// DefaultDecayHalfLife is the time in which a score halves toward
	// neutral: a peer banned for a burst of violations returns after an
	// hour's ban with a score near zero.
	DefaultDecayHalfLife = 10 * time.Minute
	// MinDecayHalfLife and MaxDecayHalfLife bound Config.DecayHalfLife.
	MinDecayHalfLife = time.Second
	MaxDecayHalfLife = 30 * 24 * time.Hour
	// scoreEpsilon is the magnitude below which a score is taken as
	// neutral: a remembered neutral score is forgotten.
	scoreEpsilon = 0.01

	// DefaultScoreMemory is the number of disconnected peer IDs whose
	// score is remembered, so a peer cannot wash a bad score by
	// reconnecting. Oldest first out.
	DefaultScoreMemory = 1024
	// MaxScoreMemory bounds Config.ScoreMemory, in entries (~50 bytes each).
	MaxScoreMemory = 1 << 20

	// MaxReasonLen bounds the reason text kept with a ban, in bytes (the
	// goaway text is as long).
	MaxReasonLen = 256

	// MaxMustConnect bounds the must-connect peers, from Config and added
	// at run time.
	MaxMustConnect = 1000
	// DefaultRedialBase is the delay before the second attempt to reach a
	// must-connect peer; each further failure doubles it.
	DefaultRedialBase = time.Second
	// DefaultRedialMax caps the redial delay: a must-connect peer that
	// comes back is reached within a minute.
	DefaultRedialMax = time.Minute
	// MinRedialBase bounds Config.RedialBase from below, so a dead peer is
	// not hammered.
	MinRedialBase = 10 * time.Millisecond
	// MaxRedialMax bounds Config.RedialMax.
	MaxRedialMax = time.Hour
	// RedialJitter is the fraction of a redial delay taken off at random
	// (uniformly in [0, RedialJitter)), so nodes restarted together do not
	// redial in lockstep and a delay never exceeds the cap.
	RedialJitter = 0.25
	// RedialAttemptTimeout is how long after DueRedials handed out an
	// address it is handed out again when the Node reported neither a
	// failure (RedialFailed) nor a connection (Admit): longer than a dial
	// timeout plus the handshake deadline.
	RedialAttemptTimeout = time.Minute
	// RedialStablePeriod is how long a must-connect connection must last to
	// reset the backoff when it ends; a shorter one counts as a failed
	// attempt, so a peer that accepts and then drops us is not redialed
	// every second.
	RedialStablePeriod = 30 * time.Second

	// MaxTransient bounds the transient connections (dialed only for a
	// DHT query, see Set.AdmitTransient) open at once per direction, in
	// connections: a lookup has α = 3 queries in flight, so 16 covers a
	// few concurrent lookups of ours, and 16 inbound bounds what remote
	// lookups cost us (a handshake and a MultiConn each, ~100 KiB) while
	// sitting outside MaxInbound.
	MaxTransient = 16
)

// Intervals at which the Node is expected to call the time-driven methods.
// Any interval works, since Decay is exact for the time elapsed; these are
// what the defaults were chosen for.
const (
	// DecayInterval is how often the Node calls Set.Decay.
	DecayInterval = 30 * time.Second
	// TrimInterval is how often the Node calls Set.Trim.
	TrimInterval = 10 * time.Second
)

// Default score deltas of the transport events. A score starts at 0; at
// DefaultBanThreshold (-100) the peer is banned.
const (
	// DeltaProtocolViolation: the peer broke the wire protocol (undeclared
	// topic, oversized message, malformed control packet).
	DeltaProtocolViolation = -40.0
	// DeltaRateExceeded: the peer exceeded an inbound rate limit once.
	DeltaRateExceeded = -5.0
	// DeltaInvalidMessage: a gossip validator rejected a message the peer
	// sent or forwarded.
	DeltaInvalidMessage = -10.0
	// DeltaBadPEX: an unsolicited, oversized or invalid PEX response, or
	// PEX requests beyond the per-peer rate.
	DeltaBadPEX = -10.0
	// DeltaGoodPEX: a solicited PEX response whose addresses validated.
	DeltaGoodPEX = 2.0
	// DeltaGoodMessage: a gossip message the validator accepted and we had
	// not seen before.
	DeltaGoodMessage = 0.5
	// DeltaCreditStall: the peer stopped consuming a topic and pinned what
	// we queued for it until the credit-stall timeout cut it off. Milder
	// than a violation (an overloaded honest node can stall), but a peer
	// that reconnects only to stall again reaches the ban threshold after
	// five stalls one default timeout (a minute) apart, decay included.
	DeltaCreditStall = -25.0
)
