package peerset

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

func TestConfigDefaults(t *testing.T) {
	s, err := New(Config{}, Deps{Self: selfID})
	if err != nil {
		t.Fatal(err)
	}
	c := s.cfg
	checks := []struct {
		name      string
		got, want any
	}{
		{"maxIn", c.maxIn, DefaultMaxInbound},
		{"maxOut", c.maxOut, DefaultMaxOutbound},
		{"maxPerGroup", c.maxPerGroup, DefaultMaxOutboundPerGroup},
		{"high", c.high, 45},
		{"low", c.low, 40},
		{"grace", c.grace, DefaultGracePeriod},
		{"banThreshold", c.banThreshold, DefaultBanThreshold},
		{"banDuration", c.banDuration, DefaultBanDuration},
		{"halfLife", c.halfLife, DefaultDecayHalfLife},
		{"memory", c.memory, DefaultScoreMemory},
		{"redialBase", c.redialBase, DefaultRedialBase},
		{"redialMax", c.redialMax, DefaultRedialMax},
		{"delta violation", c.deltas[EventProtocolViolation], DeltaProtocolViolation},
		{"delta good pex", c.deltas[EventGoodPEX], DeltaGoodPEX},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if c.now == nil || c.rng != nil || c.counter != nil {
		t.Errorf("now %v rng %v counter %v: want time.Now, global rand, no counter", c.now != nil, c.rng, c.counter)
	}
	for ev := Event(1); ev < numEvents; ev++ {
		if ev.DefaultDelta() == 0 {
			t.Errorf("%v has no default delta", ev)
		}
	}
}

func TestConfigDerived(t *testing.T) {
	tests := []struct {
		name          string
		cfg           Config
		maxIn, maxOut int
		high, low     int
		perGroup      int
		grace         time.Duration
	}{
		{"negatives mean none", Config{MaxInbound: -1, MaxOutbound: -1}, 0, 0, 1, 0, 1, DefaultGracePeriod},
		{"watermarks from limits", Config{MaxInbound: 100, MaxOutbound: 20}, 100, 20, 108, 96, 1, DefaultGracePeriod},
		{"low from high", Config{HighWatermark: 18}, 40, 10, 18, 16, 1, DefaultGracePeriod},
		{"trim disabled", Config{HighWatermark: -1}, 40, 10, -1, 0, 1, DefaultGracePeriod},
		{"no group limit, no grace", Config{MaxOutboundPerGroup: -5, GracePeriod: -1}, 40, 10, 45, 40, -1, 0},
		{"redial max follows a large base", Config{RedialBase: 2 * time.Minute}, 40, 10, 45, 40, 1, DefaultGracePeriod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg, Deps{Self: selfID})
			if err != nil {
				t.Fatal(err)
			}
			c := s.cfg
			got := []int{c.maxIn, c.maxOut, c.high, c.low, c.maxPerGroup}
			want := []int{tt.maxIn, tt.maxOut, tt.high, tt.low, tt.perGroup}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("in/out/high/low/perGroup = %v, want %v", got, want)
					break
				}
			}
			if c.grace != tt.grace {
				t.Errorf("grace = %v, want %v", c.grace, tt.grace)
			}
			if c.redialMax < c.redialBase {
				t.Errorf("redialMax %v < redialBase %v", c.redialMax, c.redialBase)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		field string
		mod   func(*Config)
	}{
		{"MaxInbound", func(c *Config) { c.MaxInbound = MaxPeersLimit + 1 }},
		{"MaxOutbound", func(c *Config) { c.MaxOutbound = MaxPeersLimit + 1 }},
		{"MaxOutboundPerGroup", func(c *Config) { c.MaxOutboundPerGroup = MaxPeersLimit + 1 }},
		{"HighWatermark", func(c *Config) { c.HighWatermark = MaxPeersLimit + 1 }},
		{"LowWatermark", func(c *Config) { c.HighWatermark, c.LowWatermark = 10, 11 }},
		{"LowWatermark", func(c *Config) { c.LowWatermark = -1 }},
		{"LowWatermark", func(c *Config) { c.HighWatermark, c.LowWatermark = -1, 5 }},
		{"GracePeriod", func(c *Config) { c.GracePeriod = MaxGracePeriod + 1 }},
		{"BanThreshold", func(c *Config) { c.BanThreshold = 5 }},
		{"BanThreshold", func(c *Config) { c.BanThreshold = MinScore - 1 }},
		{"BanThreshold", func(c *Config) { c.BanThreshold = math.NaN() }},
		{"BanDuration", func(c *Config) { c.BanDuration = -time.Second }},
		{"BanDuration", func(c *Config) { c.BanDuration = fakeMaxBan + 1 }},
		{"DecayHalfLife", func(c *Config) { c.DecayHalfLife = time.Millisecond }},
		{"DecayHalfLife", func(c *Config) { c.DecayHalfLife = -time.Minute }},
		{"ScoreMemory", func(c *Config) { c.ScoreMemory = MaxScoreMemory + 1 }},
		{"EventDeltas[event(99)]", func(c *Config) { c.EventDeltas = map[Event]float64{99: 1} }},
		{"EventDeltas[good-pex]", func(c *Config) { c.EventDeltas = map[Event]float64{EventGoodPEX: math.Inf(1)} }},
		{"EventDeltas[bad-pex]", func(c *Config) { c.EventDeltas = map[Event]float64{EventBadPEX: math.NaN()} }},
		{"RedialBase", func(c *Config) { c.RedialBase = time.Millisecond }},
		{"RedialMax", func(c *Config) { c.RedialBase, c.RedialMax = 10*time.Second, 5*time.Second }},
		{"RedialMax", func(c *Config) { c.RedialMax = MaxRedialMax + 1 }},
		{"MustConnect", func(c *Config) { c.MustConnect = make([]crypto.Address, MaxMustConnect+1) }},
		{"MustConnect[1]", func(c *Config) { c.MustConnect = []crypto.Address{mustAddr(1), {Host: "h", Port: 1}} }},
		{"MustConnect[0]", func(c *Config) { c.MustConnect = []crypto.Address{{ID: selfID, Host: "h", Port: 1}} }},
		{"MustConnect[0]", func(c *Config) { c.MustConnect = []crypto.Address{{ID: pid(1), Host: "h"}} }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			cfg := Config{}
			tt.mod(&cfg)
			s, err := New(cfg, Deps{Self: selfID, Bans: newFakeBans(time.Now)})
			if err == nil || s != nil {
				t.Fatalf("New = %v, %v; want an error", s, err)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *ConfigError", err, err)
			}
			if ce.Field != tt.field {
				t.Errorf("Field = %q, want %q", ce.Field, tt.field)
			}
			if !strings.HasPrefix(err.Error(), "peerset: Config."+tt.field+" = ") {
				t.Errorf("message %q does not name the field", err)
			}
		})
	}
}

func TestConfigEventDeltas(t *testing.T) {
	s, _ := newSet(t, Config{EventDeltas: map[Event]float64{EventGoodPEX: 7, EventProtocolViolation: -1}})
	if got := s.cfg.deltas; got[EventGoodPEX] != 7 || got[EventProtocolViolation] != -1 || got[EventRateExceeded] != DeltaRateExceeded {
		t.Errorf("deltas = %v", got)
	}
}

// TestDepsSelfRequired: a Set needs this node's ID (Deps.Self), and the
// error says where it goes.
func TestDepsSelfRequired(t *testing.T) {
	s, err := New(Config{}, Deps{})
	if err == nil || s != nil {
		t.Fatalf("New = %v, %v; want an error", s, err)
	}
	if !strings.Contains(err.Error(), "Deps.Self") {
		t.Errorf("message %q does not name Deps.Self", err)
	}
}
