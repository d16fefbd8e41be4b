package p2p

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// TestFeatureNegotiation: nodes connect with the application features both
// list in use and report the negotiated protocol version on both sides; a
// node that requires a feature the other does not list, or is of another
// chain, is refused on both sides, and Dial returns an *IncompatibleError
// naming what differs.
func TestFeatureNegotiation(t *testing.T) {
	tests := []struct {
		name    string
		a, b    []Feature // Dial goes a → b
		chainB  string    // b's chain ID when not the default
		inUse   []uint16  // connected: the features in use
		field   string    // refused: IncompatibleError.Field
		feature uint16
	}{
		{name: "no features", inUse: []uint16{}},
		{
			name:  "one shared, one unknown optional",
			a:     []Feature{{ID: 0x8001, Value: []byte("a")}},
			b:     []Feature{{ID: 0x8001, Value: []byte("b")}, {ID: 0x8002, Value: []byte("new")}},
			inUse: []uint16{0x8001},
		},
		{name: "b requires an unknown feature", b: []Feature{{ID: 0x8003, Required: true}}, field: "feature", feature: 0x8003},
		{name: "a requires what b lacks", a: []Feature{{ID: 0x8004, Required: true}}, b: []Feature{{ID: 0x8001}}, field: "feature", feature: 0x8004},
		{name: "other chain", chainB: "chain-b", field: "chain_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ca, cb := quietConfig(t, 1), quietConfig(t, 2)
			ca.Features, cb.Features = tc.a, tc.b
			if tc.chainB != "" {
				cb.ChainID = tc.chainB
			}
			a, b := startNode(t, ca), startNode(t, cb)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := a.Dial(ctx, b.ListenAddr().String())
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				testutil.Eventually(t, 10*time.Second, "b admits a", func() bool { return connectedTo(b, a.ID()) })
				for _, side := range []struct {
					n     *Node
					other *Node
					value string
				}{{a, b, featureVal(tc.b, 0x8001)}, {b, a, featureVal(tc.a, 0x8001)}} {
					p, ok := side.n.Peer(side.other.ID())
					if !ok {
						t.Fatal("peer gone")
					}
					if p.Conn.Version != 1 || !slices.Equal(p.Conn.Features, tc.inUse) {
						t.Errorf("%s sees version %d, features %v; want 1, %v", side.n.ID().Short(), p.Conn.Version, p.Conn.Features, tc.inUse)
					}
					if v, ok := p.FeatureValues[0x8001]; ok != slices.Contains(tc.inUse, 0x8001) || string(v) != side.value {
						t.Errorf("%s sees feature 0x8001 = %q, %v; want %q", side.n.ID().Short(), v, ok, side.value)
					}
				}
				return
			}
			wantIncompatible(t, a, b, err, tc.field, tc.feature)
		})
	}
}

// wantIncompatible checks that a's Dial of b failed with an
// IncompatibleError on field (and feature), that b refused too, counted as
// an incompatible handshake, that neither side keeps the other, and that
// neither charged it as a violation.
func wantIncompatible(t *testing.T, a, b *Node, err error, field string, feature uint16) {
	t.Helper()
	var ie *IncompatibleError
	if !errors.As(err, &ie) || !errors.Is(err, ErrIncompatible) || ie.Field != field || ie.Feature != feature {
		t.Fatalf("Dial: %v, want an IncompatibleError on %s 0x%04x", err, field, feature)
	}
	testutil.Eventually(t, 10*time.Second, "b counts the incompatible peer", func() bool {
		return b.Stats().HandshakeFailures["incompatible"] == 1
	})
	if connectedTo(a, b.ID()) || connectedTo(b, a.ID()) {
		t.Fatal("an incompatible peer stayed connected")
	}
	if a.Stats().Violations != 0 || b.Stats().Violations != 0 {
		t.Fatal("an incompatibility was charged as a violation")
	}
}

func featureVal(fs []Feature, id uint16) string {
	for _, f := range fs {
		if f.ID == id {
			return string(f.Value)
		}
	}
	return ""
}

// TestChunkedFeature: nodes that spread the same topics chunked connect
// and advertise feature 0x0002 with those topics; a node that floods a
// topic the other spreads chunked, or spreads another set chunked, is
// refused on both sides at setup with an IncompatibleError, never charged
// as a violation; nodes without chunked topics advertise nothing.
func TestChunkedFeature(t *testing.T) {
	flood := func() []TopicConfig {
		ts := chunkedTopics()
		ts[1].Dissemination = Flood
		return ts
	}
	both := func() []TopicConfig {
		ts := chunkedTopics()
		ts[2].Dissemination = Chunked
		return ts
	}
	tests := []struct {
		name    string
		a, b    func() []TopicConfig // Dial goes a → b
		field   string               // refused: IncompatibleError.Field; "" connected
		feature uint16
		value   []byte // connected: feature 0x0002's value on both sides
	}{
		{name: "both chunked", a: chunkedTopics, b: chunkedTopics, value: []byte{topicChunked}},
		{name: "both chunked on two topics", a: both, b: both, value: []byte{topicChunked, topicFlooded}},
		{name: "neither chunked", a: flood, b: flood},
		{name: "dialer chunked, peer floods", a: chunkedTopics, b: flood, field: "feature", feature: featureChunked},
		{name: "dialer floods, peer chunked", a: flood, b: chunkedTopics, field: "feature", feature: featureChunked},
		{name: "chunked on other topics", a: chunkedTopics, b: both, field: "chunked_topics"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ca, cb := quietConfig(t, 1), quietConfig(t, 2)
			ca.Topics, cb.Topics = tc.a(), tc.b()
			a, b := startNode(t, ca), startNode(t, cb)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := a.Dial(ctx, b.ListenAddr().String())
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				testutil.Eventually(t, 10*time.Second, "b admits a", func() bool { return connectedTo(b, a.ID()) })
				for _, side := range [][2]*Node{{a, b}, {b, a}} {
					p, ok := side[0].Peer(side[1].ID())
					if !ok {
						t.Fatal("peer gone")
					}
					v, inUse := p.FeatureValues[featureChunked]
					if inUse != (tc.value != nil) || !bytes.Equal(v, tc.value) {
						t.Errorf("%s sees feature 0x0002 = %x (in use %v), want %x", side[0].ID().Short(), v, inUse, tc.value)
					}
				}
				return
			}
			wantIncompatible(t, a, b, err, tc.field, tc.feature)
		})
	}
}

// TestChunkedFeatureSpec: the feature entry and the GOAWAY text of
// docs/PROTOCOL.md §8.7 are what the node sends.
func TestChunkedFeatureSpec(t *testing.T) {
	spec, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(spec)), "")
	cfg := quietConfig(t, 1)
	cfg.Topics = chunkedTopics() // topic 2 chunked
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fs := n.chunkedFeatures()
	if len(fs) != 1 || fs[0].ID != featureChunked || !fs[0].Required || !bytes.Equal(fs[0].Value, []byte{2}) {
		t.Fatalf("features %+v, want 0x0002 required with value 02", fs)
	}
	f := fs[0]
	entry := []byte{byte(f.ID >> 8), byte(f.ID), 1, byte(len(f.Value))}
	entry = append(entry, f.Value...)
	_, goaway := (&Node{ckTopics: []byte{2}}).chunkedMismatchText([]byte{2, 5})
	for _, want := range []string{
		"`" + hex.EncodeToString(entry) + "`",
		"`" + strings.ReplaceAll(goaway, " ", "") + "`",
		"`chunkedtopics<ours>here,<theirs>atyou`",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("docs/PROTOCOL.md does not quote %s", want)
		}
	}
}
