package peerbook

import "time"

// Defaults applied by Config for zero-valued fields, and hard limits on what
// a Config, a book file or a peer may ask of the book.
const (
	// DefaultNewBuckets is the number of buckets in the new table (addresses
	// heard of but never reached). With DefaultBucketSize it holds 65,536
	// addresses; one reporting group reaches at most NewBucketsPerSourceGroup
	// of them.
	DefaultNewBuckets = 1024
	// DefaultTriedBuckets is the number of buckets in the tried table
	// (addresses we have connected to). 16,384 slots with DefaultBucketSize.
	DefaultTriedBuckets = 256
	// DefaultBucketSize is the number of slots per bucket, in entries.
	DefaultBucketSize = 64

	// NewBucketsPerSourceGroup is how many new buckets the addresses reported
	// by one source group can spread over (Bitcoin's addrman uses the same
	// figure). Addresses of one network group reported from one source group
	// all land in a single bucket.
	NewBucketsPerSourceGroup = 64
	// TriedBucketsPerGroup is how many tried buckets the addresses of one
	// network group can spread over, so even successful addresses of one
	// group hold at most TriedBucketsPerGroup*BucketSize tried slots.
	TriedBucketsPerGroup = 8

	// MaxBuckets bounds Config.NewBuckets and Config.TriedBuckets.
	MaxBuckets = 1 << 16
	// MaxBucketSize bounds Config.BucketSize, in entries.
	MaxBucketSize = 1024
	// MaxSlots bounds NewBuckets*BucketSize + TriedBuckets*BucketSize, in
	// entries: about a million, roughly 500 MiB of memory when full (an
	// entry takes about 420 bytes with its indexes).
	MaxSlots = 1 << 20

	// DefaultIPv4GroupBits is the prefix length of an IPv4 network group.
	// A /16 is what one operator can cheaply fill; see Bitcoin's addrman.
	DefaultIPv4GroupBits = 16
	// DefaultIPv6GroupBits is the prefix length of an IPv6 network group:
	// a /32 is the usual allocation to one provider.
	DefaultIPv6GroupBits = 32

	// DefaultNewBiasPercent is the share of dial picks, in percent, drawn from
	// the new table when both tables have candidates.
	DefaultNewBiasPercent = 50

	// DefaultBackoffBase is the retry delay after the first consecutive
	// failure; it doubles per further failure, up to DefaultBackoffCap.
	DefaultBackoffBase = 10 * time.Second
	// DefaultBackoffCap is the longest retry delay.
	DefaultBackoffCap = time.Hour
	// DefaultRefusedBackoff is the retry delay after a "too many peers"
	// refusal: long enough that a full node is not asked again and again,
	// short enough to find a slot that frees.
	DefaultRefusedBackoff = time.Minute
	// MaxBackoff bounds Config.BackoffCap and any retry time read from disk.
	MaxBackoff = 7 * 24 * time.Hour

	// DefaultMaxFailures is the number of consecutive failures after which an
	// entry that is not protected is evicted. With the default backoff that
	// is one to two hours of failed probing.
	DefaultMaxFailures = 10
	// MaxMaxFailures bounds Config.MaxFailures.
	MaxMaxFailures = 1000
	// terribleFailures is the number of consecutive failures after which an
	// entry that never succeeded may be replaced by a newcomer in its slot.
	terribleFailures = 3
	// staleAfter is how long after it was last seen or reached an entry may
	// be replaced by a newcomer in its slot.
	staleAfter = 30 * 24 * time.Hour
	// triedKeepWindow protects a tried entry reached this recently from being
	// pushed back to the new table by another entry's success (a light form
	// of Bitcoin's test-before-evict).
	triedKeepWindow = 4 * time.Hour

	// DefaultMaxPexAddrs is the most addresses the book puts in a PEX answer
	// and accepts from one PEX response; the rest is excess.
	DefaultMaxPexAddrs = 32
	// MaxMaxPexAddrs bounds Config.MaxPexAddrs.
	MaxMaxPexAddrs = 1000
	// pexPerGroup is the most addresses of one network group in a PEX answer,
	// so a sample is spread across groups.
	pexPerGroup = 2
	// DefaultPexResponseTimeout is how long after MarkPexRequested a response
	// still counts as solicited.
	DefaultPexResponseTimeout = time.Minute
	// maxPexOutstanding bounds the outstanding PEX requests tracked at once.
	maxPexOutstanding = 1024
	// maxPexAsksPerPeer bounds the requests to one peer that count as
	// outstanding at once (MarkPexRequested).
	maxPexAsksPerPeer = 8

	// DefaultProbeInterval is how long after its last attempt an entry is due
	// for a churn probe.
	DefaultProbeInterval = 30 * time.Minute

	// DefaultSaveInterval is how often Run saves a changed book.
	DefaultSaveInterval = 2 * time.Minute

	// MaxLocal bounds the entries with a local source (SourceLocal), in
	// entries: one LAN segment rarely holds more nodes, and a forger on
	// the LAN answering with made-up IDs fills no more than this. A local
	// address beyond it is refused (ErrLocalFull) until one expires.
	MaxLocal = 256

	// MaxProtected bounds the must-connect entries, which live outside the
	// buckets.
	MaxProtected = 1024
	// MaxBans bounds the bans kept by ID and, separately, by IP.
	MaxBans = 1 << 16
	// MaxBanDuration is the longest ban, 30 days: the one cap on bans (the
	// peer set writes its bans here and reads this cap through
	// Book.MaxBanDuration). A longer ban loaded from a file is cut to it.
	MaxBanDuration = 30 * 24 * time.Hour
	// MinBanPrefixBits4 and MinBanPrefixBits6 are the broadest IP prefixes
	// a ban may cover, in bits: a /8 of IPv4 or a /16 of IPv6 is already a
	// large part of the Internet; anything broader is an operator's typo.
	MinBanPrefixBits4 = 8
	MinBanPrefixBits6 = 16
	// maxReasonLen bounds a ban reason, in bytes.
	maxReasonLen = 256

	// maxMetaString bounds each string of Meta, in bytes (PeerMeta's limit).
	maxMetaString = 64
	// maxMetaTopics bounds Meta.Topics, in topic IDs (one byte each).
	maxMetaTopics = 256

	// MaxFileSize bounds a book file read from disk, in bytes. 100,000
	// entries take about 20 MiB; 64 MiB leaves room for long DNS names and
	// metadata.
	MaxFileSize = 64 << 20
	// maxFileEntries bounds the entries decoded from one file.
	maxFileEntries = MaxSlots + MaxProtected
	// FileVersion is the version of the book file format this package writes
	// and reads.
	FileVersion = 1

	// pickTriesPerResult and pickTriesMin bound the candidates a selection
	// examines: tries = n*pickTriesPerResult + pickTriesMin. Backed-off
	// entries are never examined (they wait in a heap), so the bound only
	// meets entries excluded by the caller, filters or bans.
	pickTriesPerResult = 8
	pickTriesMin       = 256
)
