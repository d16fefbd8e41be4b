package mux

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// featTopics are the topics of both ends in the feature tests.
var featTopics = []TopicConfig{{ID: 1, MaxMessageSize: 1000, RecvWindow: 1 << 16}}

// featPeerSettings returns the SETTINGS of a hand-driven peer declaring
// featTopics and advertising fs.
func featPeerSettings(fs ...featureEntry) settings {
	return settings{maxPacket: 1024, topics: []topicSettings{{id: 1, maxMessage: 1000, window: 1 << 16}}, features: fs}
}

// featPair returns two EncryptedConns over a real loopback handshake, both
// declaring featTopics, closed when the test ends.
func featPair(t *testing.T) (peer, ours *conn.EncryptedConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sc := func(b byte) *conn.SecureConfig {
		seed := sha256.Sum256([]byte{'f', b})
		id, err := crypto.IdentityFromSeed(seed[:])
		if err != nil {
			t.Fatal(err)
		}
		return &conn.SecureConfig{Identity: id, NetworkID: "testnet", Meta: &pb.PeerMeta{Topics: TopicIDs(featTopics)}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type res struct {
		c   *conn.EncryptedConn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			ch <- res{nil, err}
			return
		}
		c, err := conn.Server(ctx, raw, sc(2))
		ch <- res{c, err}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err = conn.Client(ctx, raw, sc(1), crypto.ID{})
	r := <-ch
	if err != nil || r.err != nil {
		t.Fatalf("handshake: %v / %v", err, r.err)
	}
	t.Cleanup(func() { peer.Close(); r.c.Close() })
	return peer, r.c
}

// featPacket is one packet read back from the wire.
type featPacket struct {
	h    packetHeader
	body []byte
}

// featReadAll reads what e's peer sends until it closes and splits it into
// packets. It may run on another goroutine than the test's.
func featReadAll(t *testing.T, e *conn.EncryptedConn) []featPacket {
	t.Helper()
	e.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(e)
	if err != nil && !errors.Is(err, conn.ErrTruncated) {
		t.Logf("reading: %v", err)
	}
	var ps []featPacket
	for len(b) >= packetHeaderLen && len(b) >= headerLen(b[0], b[1]) {
		h, err := parsePacketHeader(b)
		if err != nil {
			t.Errorf("bad packet: %v", err)
			break
		}
		hl := headerLen(h.topic, h.kind)
		if len(b) < hl+h.length {
			t.Errorf("truncated packet %v", h)
			break
		}
		ps = append(ps, featPacket{h, b[hl : hl+h.length]})
		b = b[hl+h.length:]
	}
	return ps
}

// featConfig returns a Config over featTopics whose messages go to ch.
func featConfig(ch chan *Message) *Config {
	return &Config{Topics: featTopics, CloseTimeout: 5 * time.Second, OnMessage: func(m *Message) {
		select {
		case ch <- m:
		default:
		}
		m.Done()
	}}
}

// TestFeatureRefusal: against a hand-driven peer, a feature required by one
// side and not advertised by the other refuses the connection in New with
// an IncompatibleError naming it, and the peer reads, after our SETTINGS, a
// goaway "incompatible" that names it too, worded for its reader.
func TestFeatureRefusal(t *testing.T) {
	tests := []struct {
		name     string
		ours     []featureEntry // protocol features we advertise
		app      []Feature      // application features we advertise
		peer     []featureEntry
		feature  uint16
		local    string // IncompatibleError.Local
		goaway   string
		settings uint8 // the format of our SETTINGS
	}{
		{
			name: "peer requires an unknown protocol feature", peer: []featureEntry{{id: 0x0042, flags: featureRequired, value: []byte{7}}},
			feature: 0x0042, local: "not spoken", goaway: "feature 0x0042 required by you, not spoken here", settings: settingsPlain,
		},
		{
			name: "we require an application feature", app: []Feature{{ID: 0x9000, Required: true}}, peer: []featureEntry{{id: 0x0042}},
			feature: 0x9000, local: "required", goaway: "feature 0x9000 required here, not spoken by you", settings: settingsFeatures,
		},
		{
			name: "reserved flag bits do not make a feature required", ours: []featureEntry{{id: 0x0041}},
			peer:    []featureEntry{{id: 0x0042, flags: 0xfe}, {id: 0x7fff, flags: 0xff}},
			feature: 0x7fff, local: "not spoken", goaway: "feature 0x7fff required by you, not spoken here", settings: settingsFeatures,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			peer, ours := featPair(t)
			cfg := featConfig(nil)
			cfg.Features, cfg.protocolFeatures = tc.app, tc.ours
			ps := featPeerSettings(tc.peer...)
			if _, err := peer.Write(appendSettings(nil, &ps)); err != nil {
				t.Fatal(err)
			}
			got := make(chan []featPacket, 1)
			go func() { got <- featReadAll(t, peer); peer.Close() }()
			mc, err := New(context.Background(), ours, cfg)
			if err == nil {
				mc.Abort(GoAwayShutdown, "")
				<-mc.Done()
				t.Fatal("New accepted the peer")
			}
			var ie *conn.IncompatibleError
			if !errors.As(err, &ie) || !errors.Is(err, conn.ErrIncompatible) || ie.Field != "feature" || ie.Feature != tc.feature || ie.Local != tc.local {
				t.Fatalf("New: %v (%+v), want feature 0x%04x, local %q", err, ie, tc.feature, tc.local)
			}
			pkts := <-got
			if len(pkts) != 2 || pkts[0].h.kind != ctrlSettings || pkts[1].h.kind != ctrlGoAway {
				t.Fatalf("peer read %v, want SETTINGS then GOAWAY", pkts)
			}
			if pkts[0].body[0] != tc.settings {
				t.Errorf("our SETTINGS has format %d, want %d", pkts[0].body[0], tc.settings)
			}
			code, text, err := parseGoAway(pkts[1].body)
			if err != nil || code != GoAwayIncompatible || text != tc.goaway {
				t.Fatalf("goaway %v %q (%v), want incompatible %q", code, text, err, tc.goaway)
			}
		})
	}
}

// TestUnknownControlTypes: an unknown control type with the ignorable bit
// is skipped and counted, the connection going on (a message sent after it
// arrives); one without it, or an ignorable one with an oversized body, is
// a violation; a flood of ignorable ones is a rate excess.
func TestUnknownControlTypes(t *testing.T) {
	ignorable := func(typ uint8, n int) []byte {
		return append(appendControlHeader(nil, typ, n), bytes.Repeat([]byte{0xee}, n)...)
	}
	message := append(appendFirstHeader(nil, 1, 3, 3), 'a', 'b', 'c')
	tests := []struct {
		name      string
		send      []byte
		ignored   uint64
		violation ViolationKind // 0: the message after it is delivered
		detail    string
	}{
		{name: "ignorable, empty", send: ignorable(0x80, 0), ignored: 1},
		{name: "ignorable, 1000 bytes", send: ignorable(0xc7, 1000), ignored: 1},
		{name: "ignorable, longest", send: ignorable(0xff, maxIgnoredControlBody), ignored: 1},
		{name: "two ignorable", send: cat(ignorable(0x81, 5), ignorable(0x82, 0)), ignored: 2},
		{name: "ignorable, too long", send: ignorable(0x80, maxIgnoredControlBody+1), violation: ViolationMalformedControl, detail: fmt.Sprintf("ignorable control type 128 with a %d-byte body, at most %d", maxIgnoredControlBody+1, maxIgnoredControlBody)},
		{name: "unknown, not ignorable", send: ignorable(0x07, 0), violation: ViolationMalformedControl, detail: "unknown control type 7"},
		{name: "unknown, highest not ignorable", send: ignorable(0x7f, 8), violation: ViolationMalformedControl, detail: "unknown control type 127"},
		{name: "flood", send: bytes.Repeat(ignorable(0x90, 1), 200), violation: ViolationRateExcess},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			peer, ours := featPair(t)
			msgs := make(chan *Message, 1)
			cfg := featConfig(msgs)
			cfg.ExcessTolerance, cfg.ExcessPeriod = 5, time.Hour
			var viol *ViolationError
			violated := make(chan struct{})
			cfg.OnViolation = func(c *MultiConn, v *ViolationError) { viol = v; close(violated) }
			ps := featPeerSettings()
			if _, err := peer.Write(appendSettings(nil, &ps)); err != nil {
				t.Fatal(err)
			}
			mc, err := New(context.Background(), ours, cfg)
			if err != nil {
				t.Fatal(err)
			}
			mc.Start()
			t.Cleanup(func() { mc.Abort(GoAwayShutdown, ""); <-mc.Done() })
			go func() { io.Copy(io.Discard, peer); peer.Close() }() // our SETTINGS, acks, goaway
			if _, err := peer.Write(cat(tc.send, message)); err != nil {
				t.Fatal(err)
			}
			if tc.violation != 0 {
				select {
				case <-violated:
				case <-time.After(10 * time.Second):
					t.Fatal("no violation")
				}
				if viol.Kind != tc.violation || !strings.Contains(viol.Detail, tc.detail) {
					t.Fatalf("violation %v, want %v with %q", viol, tc.violation, tc.detail)
				}
				return
			}
			select {
			case m := <-msgs:
				if string(m.Data) != "abc" {
					t.Fatalf("delivered %q", m.Data)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("message after the ignored control messages not delivered")
			}
			if st := mc.Stats(); st.ControlIgnored != tc.ignored || st.Violations != 0 {
				t.Fatalf("ignored %d, violations %d; want %d, 0", st.ControlIgnored, st.Violations, tc.ignored)
			}
		})
	}
}

// versionTransport reports a negotiated version of its own.
type versionTransport struct {
	*conn.EncryptedConn
	v uint16
}

func (t versionTransport) Version() uint16 { return t.v }

// TestTransportVersion: New refuses a transport that negotiated a version
// the multiplexer does not speak, before writing anything, and closes it.
func TestTransportVersion(t *testing.T) {
	peer, ours := featPair(t)
	_, err := New(context.Background(), versionTransport{ours, 2}, featConfig(nil))
	if err == nil || !strings.Contains(err.Error(), "negotiated protocol version 2, the multiplexer speaks 1-1") {
		t.Fatalf("New: %v", err)
	}
	if pkts := featReadAll(t, peer); len(pkts) != 0 {
		t.Fatalf("peer read %v", pkts)
	}
	if _, err := ours.Write([]byte{1}); err == nil {
		t.Fatal("transport still open")
	}
}

// TestFeatureConfig: Config.Features is checked field by field.
func TestFeatureConfig(t *testing.T) {
	many := make([]Feature, maxFeatures+1)
	for i := range many {
		many[i].ID = FirstAppFeature + uint16(i)
	}
	for _, tc := range []struct {
		name string
		fs   []Feature
		err  string // "" valid
	}{
		{"none", nil, ""},
		{"most", many[:maxFeatures], ""},
		{"longest value", []Feature{{ID: 0xffff, Value: make([]byte, MaxFeatureValue)}}, ""},
		{"protocol ID", []Feature{{ID: 0x7fff}}, "feature 0x7fff is not an application feature"},
		{"zero ID", []Feature{{ID: 0}}, "feature 0x0000 is not an application feature"},
		{"twice", []Feature{{ID: 0x8001}, {ID: 0x8000}, {ID: 0x8001, Required: true}}, "feature 0x8001 listed twice"},
		{"value too long", []Feature{{ID: 0x8000, Value: make([]byte, MaxFeatureValue+1)}}, "feature 0x8000 value of 65 bytes, at most 64"},
		{"too many", many, "33 features, at most 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := featConfig(nil)
			cfg.Features = tc.fs
			err := cfg.Validate()
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), "Config.Features: "+tc.err)) {
				t.Fatalf("Validate: %v, want %q", err, tc.err)
			}
		})
	}
}

// TestProtocolFeatureConfig: Config.ProtocolFeatures takes only protocol
// IDs, and counts toward the 32 features one SETTINGS may carry.
func TestProtocolFeatureConfig(t *testing.T) {
	apps := make([]Feature, maxFeatures)
	for i := range apps {
		apps[i].ID = FirstAppFeature + uint16(i)
	}
	for _, tc := range []struct {
		name string
		apps []Feature
		fs   []Feature
		err  string // "" valid
	}{
		{"one", nil, []Feature{{ID: 1, Value: []byte{1}}}, ""},
		{"app ID", nil, []Feature{{ID: FirstAppFeature}}, "Config.ProtocolFeatures: feature 0x8000 is not a protocol feature"},
		{"zero ID", nil, []Feature{{ID: 0}}, "Config.ProtocolFeatures: feature 0x0000 is not a protocol feature"},
		{"twice", nil, []Feature{{ID: 2}, {ID: 2}}, "Config.ProtocolFeatures: feature 0x0002 listed twice"},
		{"too many together", apps, []Feature{{ID: 1}}, "33 features, at most 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := featConfig(nil)
			cfg.Features, cfg.ProtocolFeatures = tc.apps, tc.fs
			err := cfg.Validate()
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate: %v, want %q", err, tc.err)
			}
		})
	}
}

// TestNegotiateFeatures: the features in use are those both advertise,
// with the peer's values; the lowest conflicting feature is named, the
// same one from either side.
func TestNegotiateFeatures(t *testing.T) {
	req := func(id uint16) featureEntry { return featureEntry{id: id, flags: featureRequired} }
	opt := func(id uint16, v ...byte) featureEntry { return featureEntry{id: id, value: v} }
	for _, tc := range []struct {
		name      string
		a, b      []featureEntry
		inUse     []uint16 // a's view
		conflict  uint16   // 0: none
		aRequired bool     // a is the side that requires it
	}{
		{"none", nil, nil, nil, 0, false},
		{"disjoint optional", []featureEntry{opt(1), opt(3)}, []featureEntry{opt(2), opt(4)}, nil, 0, false},
		{"shared", []featureEntry{opt(1), req(5), opt(9)}, []featureEntry{opt(5, 1), opt(7), opt(9)}, []uint16{5, 9}, 0, false},
		{"a requires", []featureEntry{opt(1), req(4)}, []featureEntry{opt(1), opt(5)}, nil, 4, true},
		{"b requires", []featureEntry{opt(1)}, []featureEntry{req(0x8000)}, nil, 0x8000, false},
		{"lowest wins", []featureEntry{req(9)}, []featureEntry{req(3)}, nil, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inUse, ie := negotiateFeatures(tc.a, tc.b)
			back, ieBack := negotiateFeatures(tc.b, tc.a)
			if tc.conflict == 0 {
				if ie != nil || ieBack != nil {
					t.Fatalf("conflict %v / %v", ie, ieBack)
				}
				var ids []uint16
				for _, f := range inUse {
					ids = append(ids, f.id)
				}
				if len(ids) != len(tc.inUse) || len(back) != len(inUse) || (len(ids) > 0 && string(u16s(ids)) != string(u16s(tc.inUse))) {
					t.Fatalf("in use %v (back %v), want %v", ids, back, tc.inUse)
				}
				for i, f := range inUse {
					if back[i].id != f.id {
						t.Fatalf("sides disagree: %v / %v", inUse, back)
					}
				}
				return
			}
			if ie == nil || ieBack == nil || ie.Feature != tc.conflict || ieBack.Feature != tc.conflict {
				t.Fatalf("conflict %v / %v, want 0x%04x", ie, ieBack, tc.conflict)
			}
			wantA, wantB := "not spoken", "required"
			if tc.aRequired {
				wantA, wantB = wantB, wantA
			}
			if ie.Local != wantA || ie.Remote != wantB || ieBack.Local != wantB || ieBack.Remote != wantA {
				t.Fatalf("sides %+v / %+v", ie, ieBack)
			}
		})
	}
}

func u16s(v []uint16) []byte {
	var b []byte
	for _, x := range v {
		b = append(b, byte(x>>8), byte(x))
	}
	return b
}

// TestSpecVectors: the SETTINGS and GOAWAY of docs/PROTOCOL.md §8.7 are
// what this implementation sends, byte for byte, and the bounds it states
// are the code's.
func TestSpecVectors(t *testing.T) {
	spec, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(spec)), "")
	s := settings{maxPacket: 16384, recvRate: 1 << 20, topics: []topicSettings{{id: 1, maxMessage: 65536, window: 1 << 20}}}
	plain := appendSettings(nil, &s)
	s.features = []featureEntry{{id: 0x42}, {id: 0x8001, flags: featureRequired, value: []byte{0xab, 0xcd}}}
	ie := &conn.IncompatibleError{Field: "feature", Feature: 0x8001, Local: "required", Remote: "not spoken"}
	for _, v := range []struct {
		name string
		b    []byte
	}{
		{"settings_with_features", appendSettings(nil, &s)},
		{"settings without features", plain},
		{"goaway_incompatible_feature", appendGoAwayMsg(nil, GoAwayIncompatible, incompatibleText(ie))},
	} {
		if !strings.Contains(text, hex.EncodeToString(v.b)) {
			t.Errorf("docs/PROTOCOL.md does not quote %s = %x", v.name, v.b)
		}
	}
	for _, want := range []string{
		fmt.Sprintf("%dbytes).Atypenotin", maxControlBody),
		fmt.Sprintf("m≤%d", maxFeatures),
		fmt.Sprintf("length≤%d", MaxFeatureValue),
		"`feature0x8001requiredhere,notspokenbyyou`",
		"`feature0x8001requiredbyyou,notspokenhere`",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("docs/PROTOCOL.md does not say %q", want)
		}
	}
}
