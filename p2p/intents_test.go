package p2p

import "testing"

// TestIntentsSpread checks that each operator intent reaches every
// component it concerns, and that an intent left off changes nothing.
func TestIntentsSpread(t *testing.T) {
	for _, tt := range []struct {
		name     string
		set      func(*Config)
		loopback bool // Book.AllowLoopback, Filter.ExemptLoopback, no group limit
		private  bool // Book.AllowPrivate, Filter.ExemptPrivate
		names    bool // Book.AllowNetworkNames
	}{
		{"none", func(*Config) {}, false, false, false},
		{"loopback", func(c *Config) { c.AllowLoopback = true }, true, false, false},
		{"private", func(c *Config) { c.AllowPrivate = true }, false, true, false},
		{"names", func(c *Config) { c.AllowNetworkNames = true }, false, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Identity: testIdentity(t, 1), NetworkID: "test", ListenAddr: "-", Topics: testTopics()}
			tt.set(&cfg)
			s, err := cfg.settings()
			if err != nil {
				t.Fatal(err)
			}
			if s.Book.AllowLoopback != tt.loopback || s.Filter.ExemptLoopback != tt.loopback || (s.Peers.MaxOutboundPerGroup == -1) != tt.loopback {
				t.Errorf("loopback: book %v, filter %v, per-group %d; want %v", s.Book.AllowLoopback, s.Filter.ExemptLoopback, s.Peers.MaxOutboundPerGroup, tt.loopback)
			}
			if s.Book.AllowPrivate != tt.private || s.Filter.ExemptPrivate != tt.private {
				t.Errorf("private: book %v, filter %v; want %v", s.Book.AllowPrivate, s.Filter.ExemptPrivate, tt.private)
			}
			if s.Book.AllowNetworkNames != tt.names {
				t.Errorf("names: book %v; want %v", s.Book.AllowNetworkNames, tt.names)
			}
		})
	}
	// An explicit per-group limit survives AllowLoopback.
	cfg := Config{Identity: testIdentity(t, 1), NetworkID: "test", ListenAddr: "-", Topics: testTopics(), AllowLoopback: true}
	cfg.Peers.MaxOutboundPerGroup = 3
	if s, err := cfg.settings(); err != nil || s.Peers.MaxOutboundPerGroup != 3 {
		t.Fatalf("explicit MaxOutboundPerGroup: %v, %v", s, err)
	}
}
