package mux

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestMultiConfigValidation: every invalid field is refused with an error
// that names it.
func TestMultiConfigValidation(t *testing.T) {
	ok := func(*Message) {}
	for _, tc := range []struct {
		name string
		cfg  *Config
		want string
	}{
		{"no topics", &Config{OnMessage: ok}, "Config.Topics"},
		{"no OnMessage", &Config{Topics: []TopicConfig{{ID: 1}}}, "Config.OnMessage"},
		{"topic 0", &Config{Topics: []TopicConfig{{ID: 0, Name: "ctl"}}, OnMessage: ok}, `mux: topic 0 ("ctl"): ID 0`},
		{"duplicate", &Config{Topics: []TopicConfig{{ID: 4}, {ID: 4, Name: "again"}}, OnMessage: ok}, `topic 4 ("again"): ID declared twice`},
		{"huge message", &Config{Topics: []TopicConfig{{ID: 3, Name: "blocks", MaxMessageSize: 2 << 30}}, OnMessage: ok}, `mux: topic 3 ("blocks"): MaxMessageSize`},
		{"negative message", &Config{Topics: []TopicConfig{{ID: 3, MaxMessageSize: -1}}, OnMessage: ok}, "MaxMessageSize"},
		{"small window", &Config{Topics: []TopicConfig{{ID: 3, MaxMessageSize: 1000, RecvWindow: 1000}}, OnMessage: ok}, "RecvWindow 1000 outside 1064"},
		{"negative queue", &Config{Topics: []TopicConfig{{ID: 3, SendQueue: -1}}, OnMessage: ok}, "SendQueue"},
		{"byte queue below a message", &Config{Topics: []TopicConfig{{ID: 3, MaxMessageSize: 1000, SendQueueBytes: 999}}, OnMessage: ok}, "SendQueueBytes 999 below MaxMessageSize 1000"},
		{"stall before ping", &Config{Topics: []TopicConfig{{ID: 1}}, OnMessage: ok, PingInterval: time.Second, CreditStallTimeout: time.Second}, "Config.CreditStallTimeout 1s must exceed PingInterval"},
		{"negative rate", &Config{Topics: []TopicConfig{{ID: 3, InboundRate: -1}}, OnMessage: ok}, "InboundRate"},
		{"long name", &Config{Topics: []TopicConfig{{ID: 3, Name: strings.Repeat("n", 65)}}, OnMessage: ok}, "Name"},
		{"tiny packets", &Config{Topics: []TopicConfig{{ID: 1}}, OnMessage: ok, MaxPacketPayload: 100}, "Config.MaxPacketPayload 100"},
		{"ping after timeout", &Config{Topics: []TopicConfig{{ID: 1}}, OnMessage: ok, PingInterval: time.Minute, IdleTimeout: time.Second}, "Config.IdleTimeout"},
		{"negative send rate", &Config{Topics: []TopicConfig{{ID: 1}}, OnMessage: ok, SendRate: -1}, "Config.SendRate"},
		{"negative timeout", &Config{Topics: []TopicConfig{{ID: 1}}, OnMessage: ok, CloseTimeout: -1}, "Config.CloseTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "mux: ") {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	var zero Config
	zero.Topics, zero.OnMessage = []TopicConfig{{ID: 9}, {ID: 2}}, ok
	p, err := zero.params()
	if err != nil {
		t.Fatal(err)
	}
	tc := p.topics[1]
	if p.topics[0].ID != 2 || tc.MaxMessageSize != DefaultMaxMessageSize || tc.SendQueue != DefaultSendQueue ||
		tc.RecvWindow != 2*DefaultMaxMessageSize+MessageCreditOverhead || p.maxPacket != DefaultMaxPacketPayload ||
		p.idleTimeout != DefaultIdleTimeout || p.pingInterval != DefaultPingInterval ||
		tc.SendQueueBytes != 4*DefaultMaxMessageSize || p.stallTimeout != DefaultIdleTimeout {
		t.Fatalf("defaults not applied: %+v %+v", p, tc)
	}
	if got := TopicIDs(zero.Topics); string(got) != "\x02\x09" {
		t.Fatalf("TopicIDs %v", got)
	}
}

// TestTopicsMustMatchPeerMeta: a Config serving other topics than the
// handshake declared is refused before anything is sent.
func TestTopicsMustMatchPeerMeta(t *testing.T) {
	cfg, _ := mcConfig(mcTestTopics())
	ea, _ := hs.Pair(t, mcSecureConfig(t, 1, mcTestTopics()[:1]), mcSecureConfig(t, 2, mcTestTopics()))
	_, err := New(context.Background(), ea, cfg)
	if err == nil || !strings.Contains(err.Error(), "declared in our PeerMeta") {
		t.Fatalf("New: %v", err)
	}
}
