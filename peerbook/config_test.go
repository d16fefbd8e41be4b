package peerbook

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		NewBuckets: DefaultNewBuckets, TriedBuckets: DefaultTriedBuckets, BucketSize: DefaultBucketSize,
		MaxEntries:    (DefaultNewBuckets + DefaultTriedBuckets) * DefaultBucketSize,
		IPv4GroupBits: 16, IPv6GroupBits: 32, NewBiasPercent: 50,
		BackoffBase: DefaultBackoffBase, BackoffCap: DefaultBackoffCap, RefusedBackoff: DefaultRefusedBackoff, MaxFailures: 10,
		MaxPexAddrs: 32, PexResponseTimeout: DefaultPexResponseTimeout,
		ProbeInterval: DefaultProbeInterval, SaveInterval: DefaultSaveInterval,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n have %+v\n want %+v", c, want)
	}
	d := Deps{}.withDefaults()
	if d.Clock == nil || d.Rand == nil || d.Logger == nil {
		t.Fatalf("Deps defaults left a nil dependency: %+v", d)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		field string
		cfg   Config
	}{
		{"NewBuckets", Config{NewBuckets: -1}},
		{"NewBuckets", Config{NewBuckets: MaxBuckets + 1}},
		{"TriedBuckets", Config{TriedBuckets: -5}},
		{"BucketSize", Config{BucketSize: MaxBucketSize + 1}},
		{"BucketSize", Config{NewBuckets: MaxBuckets, BucketSize: 1024}},
		{"MaxEntries", Config{MaxEntries: -1}},
		{"MaxEntries", Config{NewBuckets: 1, TriedBuckets: 1, BucketSize: 4, MaxEntries: 9}},
		{"IPv4GroupBits", Config{IPv4GroupBits: 33}},
		{"IPv6GroupBits", Config{IPv6GroupBits: 129}},
		{"NewBiasPercent", Config{NewBiasPercent: 101}},
		{"NewBiasPercent", Config{NewBiasPercent: -1}},
		{"BackoffBase", Config{BackoffBase: -time.Second}},
		{"BackoffCap", Config{BackoffCap: MaxBackoff + 1}},
		{"BackoffCap", Config{BackoffBase: time.Hour, BackoffCap: time.Minute}},
		{"MaxFailures", Config{MaxFailures: MaxMaxFailures + 1}},
		{"MaxPexAddrs", Config{MaxPexAddrs: -3}},
		{"PexResponseTimeout", Config{PexResponseTimeout: -1}},
		{"ProbeInterval", Config{ProbeInterval: -1}},
		{"SaveInterval", Config{SaveInterval: 48 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			_, err := New(tt.cfg, Deps{})
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("New(%+v) = %v, want a ConfigError for %s", tt.cfg, err, tt.field)
			}
			if !strings.HasPrefix(err.Error(), "peerbook: Config."+tt.field) {
				t.Fatalf("error %q does not name the field", err)
			}
			if _, _, err := Open(t.TempDir()+"/book.json", tt.cfg, Deps{}); !errors.As(err, &ce) {
				t.Fatalf("Open accepted %+v", tt.cfg)
			}
		})
	}
}

func TestConfigRandFailure(t *testing.T) {
	_, err := New(Config{}, Deps{Rand: strings.NewReader("short")})
	if err == nil || !strings.Contains(err.Error(), "Deps.Rand") {
		t.Fatalf("New with a failing Rand: %v", err)
	}
}
