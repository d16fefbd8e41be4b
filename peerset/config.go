package peerset

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
)

// Config holds a Set's settings. The zero value of every field means its
// documented default. New validates a Config once and copies what it needs,
// so the caller may change it afterwards. What the Set is wired to (its
// own ID, clock, logger, counter, ban list) is its Deps.
type Config struct {
	// MaxInbound is the number of inbound peers admitted, must-connect
	// peers not counted. Zero means DefaultMaxInbound (40); negative means
	// none (only must-connect peers get in). At most MaxPeersLimit.
	MaxInbound int

	// MaxOutbound is the number of outbound peers admitted, must-connect
	// peers not counted. Zero means DefaultMaxOutbound (10); negative
	// means none. At most MaxPeersLimit.
	MaxOutbound int

	// MaxOutboundPerGroup is the number of outbound peers (must-connect
	// peers not counted) allowed per network group (see Group). Zero means
	// DefaultMaxOutboundPerGroup (1); negative means no limit, which
	// networks on one host (127.0.0.0/16) need. At most MaxPeersLimit.
	MaxOutboundPerGroup int

	// HighWatermark is the number of peers occupying slots (inbound plus
	// outbound, must-connect peers not counted) above which Trim drops
	// peers. Zero means 90% of the effective MaxInbound+MaxOutbound (45
	// by default); negative disables trimming. At most MaxPeersLimit.
	HighWatermark int

	// LowWatermark is the number of peers Trim trims down to. Zero means
	// 8/9 of the high watermark (40 by default). It must not exceed
	// HighWatermark; negative is an error.
	LowWatermark int

	// GracePeriod is how long after connecting a peer is spared from
	// trimming. Zero means DefaultGracePeriod (1 min); negative means no
	// grace. At most MaxGracePeriod.
	GracePeriod time.Duration

	// BanThreshold is the score at or below which a peer that is not
	// must-connect is disconnected and banned. Zero means
	// DefaultBanThreshold (-100); otherwise it must be negative and at
	// least MinScore.
	BanThreshold float64

	// BanDuration is how long an automatic ban lasts. Zero means
	// DefaultBanDuration (1 h); at most Bans.MaxBanDuration(); negative is an
	// error.
	BanDuration time.Duration

	// DecayHalfLife is the time in which a score halves toward neutral.
	// Zero means DefaultDecayHalfLife (10 min); otherwise between
	// MinDecayHalfLife and MaxDecayHalfLife.
	DecayHalfLife time.Duration

	// ScoreMemory is the number of disconnected peers whose score is
	// remembered. Zero means DefaultScoreMemory (1024); negative means
	// none. At most MaxScoreMemory.
	ScoreMemory int

	// EventDeltas overrides the default score delta of transport events
	// (see Event.DefaultDelta). Keys must be known events, values finite
	// and within [MinScore, MaxScore]. Nil means all defaults.
	EventDeltas map[Event]float64

	// MustConnect lists the must-connect peers known at start; each needs
	// its peer ID. At most MaxMustConnect, together with those added by
	// AddMustConnect.
	MustConnect []crypto.Address

	// RedialBase is the delay after a must-connect peer's first failed
	// attempt; it doubles per further failure up to RedialMax. Zero means
	// DefaultRedialBase (1 s); at least MinRedialBase.
	RedialBase time.Duration

	// RedialMax caps the redial delay. Zero means DefaultRedialMax (1 min);
	// at least RedialBase and at most MaxRedialMax.
	RedialMax time.Duration
}

// Deps is what a Set is wired to, as opposed to its settings (Config). The
// Node fills it; only Self is required.
type Deps struct {
	// Self is this node's own peer ID. Admit refuses it, and the duplicate
	// rule compares it with the remote peer's. Required.
	Self crypto.ID

	// Clock's Now is the time for the methods that take no time argument
	// (Report, Record, Ban, Remove) and for New, which starts the decay
	// clock. Nil means clock.Real. The Node passes the clock it uses for
	// the methods that do take one.
	Clock clock.Clock

	// Logger receives the Set's rare events (a score ban its BanList did
	// not record), never anything per peer or per call. Nil means silent.
	Logger *slog.Logger

	// Counter enforces per-IP and per-subnet caps. Nil means no caps.
	Counter Counter

	// Bans is where bans live (the Node passes its peer book): the Set
	// asks it on admission and dials and writes operator and score bans
	// to it. Nil means no bans are kept: nothing is refused as banned,
	// Set.Ban fails, and score bans only disconnect.
	Bans BanList

	// Rand is the randomness for redial jitter. Nil means math/rand/v2's
	// global source. Tests inject a fixed source.
	Rand rand.Source
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	// Field is the Config field, e.g. "MaxInbound" or "MustConnect[2]".
	Field string
	// Value is the offending value as text.
	Value string
	// Reason says what is wrong with it.
	Reason string
}

// Error returns e.g. "peerset: Config.MaxInbound = 20000: at most 10000".
func (e *ConfigError) Error() string {
	return fmt.Sprintf("peerset: Config.%s = %s: %s", e.Field, e.Value, e.Reason)
}

// settings is a validated Config with defaults applied. Immutable after New.
type settings struct {
	self          crypto.ID
	maxIn, maxOut int // 0 when negative was given
	maxPerGroup   int // -1: no limit
	high, low     int // high -1: trimming disabled
	grace         time.Duration
	banThreshold  float64
	banDuration   time.Duration
	halfLife      time.Duration
	memory        int
	deltas        [numEvents]float64
	redialBase    time.Duration
	redialMax     time.Duration
	counter       Counter
	bans          BanList
	now           func() time.Time
	log           *slog.Logger
	rng           *rand.Rand // nil: global source
}

func cfgErr(field string, value any, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Value: fmt.Sprint(value), Reason: fmt.Sprintf(format, args...)}
}

// count applies the default and bounds of a peer count field. Negative
// means none (0) when negOK.
func count(field string, v, def int, negOK bool) (int, error) {
	switch {
	case v == 0:
		return def, nil
	case v < 0 && negOK:
		return 0, nil
	case v < 0:
		return 0, cfgErr(field, v, "must not be negative")
	case v > MaxPeersLimit:
		return 0, cfgErr(field, v, "at most %d", MaxPeersLimit)
	}
	return v, nil
}

func duration(field string, v, def, min, max time.Duration) (time.Duration, error) {
	if v == 0 {
		return def, nil
	}
	if v < min || v > max {
		return 0, cfgErr(field, v, "must be between %v and %v", min, max)
	}
	return v, nil
}

// errNoSelf is New's error for a Deps without Self.
var errNoSelf = errors.New("peerset: Deps.Self is required: this node's peer ID")

func (c *Config) validate(d Deps) (settings, error) {
	var s settings
	var err error
	if d.Self.IsZero() {
		return s, errNoSelf
	}
	s.self = d.Self
	if s.maxIn, err = count("MaxInbound", c.MaxInbound, DefaultMaxInbound, true); err != nil {
		return s, err
	}
	if s.maxOut, err = count("MaxOutbound", c.MaxOutbound, DefaultMaxOutbound, true); err != nil {
		return s, err
	}
	if c.MaxOutboundPerGroup < 0 {
		s.maxPerGroup = -1
	} else if s.maxPerGroup, err = count("MaxOutboundPerGroup", c.MaxOutboundPerGroup, DefaultMaxOutboundPerGroup, false); err != nil {
		return s, err
	}

	switch {
	case c.HighWatermark < 0:
		s.high, s.low = -1, 0
		if c.LowWatermark != 0 {
			return s, cfgErr("LowWatermark", c.LowWatermark, "must be 0 when HighWatermark is negative (trimming disabled)")
		}
	default:
		total := s.maxIn + s.maxOut
		if s.high, err = count("HighWatermark", c.HighWatermark, max(1, total*highWatermarkPercent/100), false); err != nil {
			return s, err
		}
		if s.low, err = count("LowWatermark", c.LowWatermark, s.high*lowWatermarkNumerator/lowWatermarkDenominator, false); err != nil {
			return s, err
		}
		if s.low > s.high {
			return s, cfgErr("LowWatermark", c.LowWatermark, "must not exceed HighWatermark (%d)", s.high)
		}
	}

	switch {
	case c.GracePeriod < 0:
		s.grace = 0
	case c.GracePeriod > MaxGracePeriod:
		return s, cfgErr("GracePeriod", c.GracePeriod, "at most %v", MaxGracePeriod)
	case c.GracePeriod == 0:
		s.grace = DefaultGracePeriod
	default:
		s.grace = c.GracePeriod
	}

	switch t := c.BanThreshold; {
	case t == 0:
		s.banThreshold = DefaultBanThreshold
	case math.IsNaN(t) || t > 0 || t < MinScore:
		return s, cfgErr("BanThreshold", t, "must be negative and at least %v", MinScore)
	default:
		s.banThreshold = t
	}
	maxBan := time.Duration(math.MaxInt64)
	if d.Bans != nil {
		maxBan = d.Bans.MaxBanDuration()
	}
	s.bans = d.Bans
	if s.banDuration, err = duration("BanDuration", c.BanDuration, DefaultBanDuration, time.Second, maxBan); err != nil {
		return s, err
	}
	if s.halfLife, err = duration("DecayHalfLife", c.DecayHalfLife, DefaultDecayHalfLife, MinDecayHalfLife, MaxDecayHalfLife); err != nil {
		return s, err
	}

	switch {
	case c.ScoreMemory < 0:
		s.memory = 0
	case c.ScoreMemory == 0:
		s.memory = DefaultScoreMemory
	case c.ScoreMemory > MaxScoreMemory:
		return s, cfgErr("ScoreMemory", c.ScoreMemory, "at most %d", MaxScoreMemory)
	default:
		s.memory = c.ScoreMemory
	}

	for ev := Event(1); ev < numEvents; ev++ {
		s.deltas[ev] = ev.DefaultDelta()
	}
	for ev, d := range c.EventDeltas {
		field := "EventDeltas[" + ev.String() + "]"
		if ev == 0 || ev >= numEvents {
			return s, cfgErr(field, d, "unknown event")
		}
		if math.IsNaN(d) || d < MinScore || d > MaxScore {
			return s, cfgErr(field, d, "must be between %v and %v", MinScore, MaxScore)
		}
		s.deltas[ev] = d
	}

	if s.redialBase, err = duration("RedialBase", c.RedialBase, DefaultRedialBase, MinRedialBase, MaxRedialMax); err != nil {
		return s, err
	}
	if s.redialMax, err = duration("RedialMax", c.RedialMax, max(DefaultRedialMax, s.redialBase), s.redialBase, MaxRedialMax); err != nil {
		return s, err
	}

	if len(c.MustConnect) > MaxMustConnect {
		return s, cfgErr("MustConnect", len(c.MustConnect), "at most %d peers", MaxMustConnect)
	}
	for i, a := range c.MustConnect {
		if err := checkMustConnect(s.self, a); err != nil {
			return s, cfgErr(fmt.Sprintf("MustConnect[%d]", i), a, "%v", err)
		}
	}

	s.counter = d.Counter
	s.now = clock.Or(d.Clock).Now
	s.log = d.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if d.Rand != nil {
		s.rng = rand.New(d.Rand)
	}
	return s, nil
}
