package peerbook

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
)

// AddrFilter is the admission filter as the book sees it. The node adapts
// its filter to it. Implementations must be safe for concurrent use and
// should not block: the book calls them with its lock held.
//
// A DNS-name address cannot be checked before it is resolved, so the book
// never passes one to the filter: names reported by peers are refused
// unless Config.AllowNetworkNames is set, and the node resolves a name once
// at each dial, checks every address it resolves to (these rules, bans,
// routability, caps) and dials exactly a checked address.
type AddrFilter interface {
	// AllowPEX reports whether an address of ip learned through PEX may
	// enter the book, and if not, why.
	AllowPEX(ip netip.Addr) (ok bool, reason string)
	// AllowDial reports whether an address of ip may be dialed, and if not,
	// why. Pick and DueForProbe skip addresses it refuses.
	AllowDial(ip netip.Addr) (ok bool, reason string)
}

// Config configures a Book: its settings, as opposed to what it is wired
// to (Deps). The zero value is a valid configuration: every zero field
// means the default named in its comment. New and Open validate it and
// name the offending field in the error.
type Config struct {
	// NewBuckets is the number of buckets of the new table (1-MaxBuckets,
	// default DefaultNewBuckets).
	NewBuckets int
	// TriedBuckets is the number of buckets of the tried table
	// (1-MaxBuckets, default DefaultTriedBuckets).
	TriedBuckets int
	// BucketSize is the number of slots per bucket (1-MaxBucketSize,
	// default DefaultBucketSize). (NewBuckets+TriedBuckets)*BucketSize must
	// not exceed MaxSlots.
	BucketSize int
	// MaxEntries caps the entries in both tables together (default and
	// maximum: all slots). Protected entries do not count; they are capped by
	// MaxProtected.
	MaxEntries int

	// IPv4GroupBits is the prefix length that defines an IPv4 network group
	// (1-32, default DefaultIPv4GroupBits).
	IPv4GroupBits int
	// IPv6GroupBits is the prefix length that defines an IPv6 network group
	// (1-128, default DefaultIPv6GroupBits).
	IPv6GroupBits int

	// NewBiasPercent is the share of dial picks, in percent, drawn from the
	// new table rather than the tried one (1-100, default
	// DefaultNewBiasPercent). A table without candidates is skipped.
	NewBiasPercent int

	// BackoffBase is the retry delay after one failure (default
	// DefaultBackoffBase). Each further consecutive failure doubles it, up to
	// BackoffCap; the actual delay is drawn uniformly from [d/2, d].
	BackoffBase time.Duration
	// BackoffCap is the longest retry delay (BackoffBase-MaxBackoff, default
	// DefaultBackoffCap).
	BackoffCap time.Duration
	// RefusedBackoff is the retry delay after a peer was reached but had
	// no room for us (MarkRefused): no failure is counted, the address is
	// good, yet redialing it at once only earns another refusal
	// (1 ms-MaxBackoff, default DefaultRefusedBackoff).
	RefusedBackoff time.Duration
	// MaxFailures is the number of consecutive failures that evicts an
	// entry that is not protected (1-MaxMaxFailures, default
	// DefaultMaxFailures).
	MaxFailures int

	// MaxPexAddrs is the most addresses in a PEX answer and the most
	// accepted from one PEX response (1-MaxMaxPexAddrs, default
	// DefaultMaxPexAddrs). The node should ask for this many.
	MaxPexAddrs int
	// PexResponseTimeout is how long a PEX request stays outstanding
	// (default DefaultPexResponseTimeout).
	PexResponseTimeout time.Duration
	// AllowPrivate admits private addresses (RFC 1918, RFC 6598, fc00::/7)
	// from PEX and inbound reports.
	AllowPrivate bool
	// AllowLoopback admits loopback addresses from PEX and inbound reports.
	AllowLoopback bool
	// AllowNetworkNames admits DNS names from PEX and inbound reports (and
	// keeps such entries when a book file is loaded). Off by default: a name
	// is checked only once it is resolved, at each dial, so a peer could
	// otherwise point the node anywhere its resolver answers. Names the
	// operator gives (bootstrap, manual, protected) are always admitted.
	AllowNetworkNames bool

	// ProbeInterval is how long after its last attempt an entry is due for a
	// churn probe (default DefaultProbeInterval).
	ProbeInterval time.Duration
	// SaveInterval is how often Run saves a changed book (default
	// DefaultSaveInterval).
	SaveInterval time.Duration
}

// Deps are what a Book is wired to, as opposed to its settings (Config).
// The zero value is valid: no own ID, no filter, the system clock,
// crypto/rand and no logging.
type Deps struct {
	// SelfID is this node's peer ID; addresses with it are never stored.
	SelfID crypto.ID
	// Filter, if not nil, screens addresses learned through PEX and
	// addresses picked for dialing.
	Filter AddrFilter
	// Clock is the book's time: backoff, bans, expiry and the names of
	// corrupt files use its Now, Run's save interval its NewTicker. Nil
	// means clock.Real.
	Clock clock.Clock
	// Rand is the source of randomness: the bucket secret of a new book and
	// the seed of the selection generator (nil: crypto/rand.Reader).
	Rand io.Reader
	// Logger receives load reports, corrupt-file notices and save failures
	// (nil: silent).
	Logger *slog.Logger
}

// withDefaults returns d with nil dependencies replaced by their defaults.
func (d Deps) withDefaults() Deps {
	d.Clock = clock.Or(d.Clock)
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string // name of the Config field
	Reason string
}

// Error returns "peerbook: Config.<Field>: <reason>".
func (e *ConfigError) Error() string { return "peerbook: Config." + e.Field + ": " + e.Reason }

// withDefaults returns c with defaults filled in, or the first invalid field.
func (c Config) withDefaults() (Config, error) {
	intField := func(p *int, name string, def, lo, hi int) error {
		if *p == 0 {
			*p = def
		}
		if *p < lo || *p > hi {
			return &ConfigError{name, fmt.Sprintf("%d is outside %d-%d", *p, lo, hi)}
		}
		return nil
	}
	durField := func(p *time.Duration, name string, def, lo, hi time.Duration) error {
		if *p == 0 {
			*p = def
		}
		if *p < lo || *p > hi {
			return &ConfigError{name, fmt.Sprintf("%v is outside %v-%v", *p, lo, hi)}
		}
		return nil
	}
	for _, err := range []error{
		intField(&c.NewBuckets, "NewBuckets", DefaultNewBuckets, 1, MaxBuckets),
		intField(&c.TriedBuckets, "TriedBuckets", DefaultTriedBuckets, 1, MaxBuckets),
		intField(&c.BucketSize, "BucketSize", DefaultBucketSize, 1, MaxBucketSize),
		intField(&c.IPv4GroupBits, "IPv4GroupBits", DefaultIPv4GroupBits, 1, 32),
		intField(&c.IPv6GroupBits, "IPv6GroupBits", DefaultIPv6GroupBits, 1, 128),
		intField(&c.NewBiasPercent, "NewBiasPercent", DefaultNewBiasPercent, 1, 100),
		intField(&c.MaxFailures, "MaxFailures", DefaultMaxFailures, 1, MaxMaxFailures),
		intField(&c.MaxPexAddrs, "MaxPexAddrs", DefaultMaxPexAddrs, 1, MaxMaxPexAddrs),
		durField(&c.BackoffBase, "BackoffBase", DefaultBackoffBase, time.Millisecond, MaxBackoff),
		durField(&c.BackoffCap, "BackoffCap", DefaultBackoffCap, time.Millisecond, MaxBackoff),
		durField(&c.RefusedBackoff, "RefusedBackoff", DefaultRefusedBackoff, time.Millisecond, MaxBackoff),
		durField(&c.PexResponseTimeout, "PexResponseTimeout", DefaultPexResponseTimeout, time.Millisecond, 24*time.Hour),
		durField(&c.ProbeInterval, "ProbeInterval", DefaultProbeInterval, time.Millisecond, 365*24*time.Hour),
		durField(&c.SaveInterval, "SaveInterval", DefaultSaveInterval, time.Millisecond, 24*time.Hour),
	} {
		if err != nil {
			return c, err
		}
	}
	if c.BackoffCap < c.BackoffBase {
		return c, &ConfigError{"BackoffCap", fmt.Sprintf("%v is below BackoffBase %v", c.BackoffCap, c.BackoffBase)}
	}
	slots := (c.NewBuckets + c.TriedBuckets) * c.BucketSize
	if slots > MaxSlots {
		return c, &ConfigError{"BucketSize", fmt.Sprintf("(NewBuckets+TriedBuckets)*BucketSize = %d exceeds %d", slots, MaxSlots)}
	}
	if err := intField(&c.MaxEntries, "MaxEntries", slots, 1, slots); err != nil {
		return c, err
	}
	return c, nil
}
