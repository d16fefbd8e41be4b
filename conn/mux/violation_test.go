package mux

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/internal/testutil"
)

// Topics of the server in violation tests, and the raw client's SETTINGS.
var (
	violTopics = []TopicConfig{
		{ID: 1, Name: "one", MaxMessageSize: 1000, RecvWindow: 2128},
		{ID: 2, Name: "limited", MaxMessageSize: 100, InboundRate: 1, InboundBurst: 1},
	}
	violClientSettings = settings{maxPacket: 1024, topics: []topicSettings{
		{id: 1, maxMessage: 1000, window: 2128},
		{id: 2, maxMessage: 100, window: 10000},
	}}
)

// rawMultiPeer connects a hand-driven client to a server MultiConn over a
// real handshake. The client has sent its SETTINGS; the returned
// EncryptedConn writes whatever the test wants.
func rawMultiPeer(t *testing.T, cfg *Config, clientSettings *settings) (*conn.EncryptedConn, *MultiConn) {
	t.Helper()
	csc := testSecureConfig(t, 1)
	for _, ts := range clientSettings.topics {
		csc.Meta.Topics = append(csc.Meta.Topics, ts.id)
	}
	ec, es := hs.Pair(t, csc, mcSecureConfig(t, 2, cfg.Topics))
	if _, err := ec.Write(appendSettings(nil, clientSettings)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := newStarted(ctx, es, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Abort(GoAwayShutdown, "")
		<-s.Done()
	})
	return ec, s
}

// readGoAway reads everything the server sends until it closes and returns
// the GOAWAY among it, or nil.
func readGoAway(t *testing.T, e *conn.EncryptedConn) *GoAwayError {
	t.Helper()
	e.SetReadDeadline(time.Now().Add(10 * time.Second))
	all, err := io.ReadAll(e)
	if err != nil && !errors.Is(err, conn.ErrTruncated) {
		t.Logf("reading from server: %v", err)
	}
	for len(all) >= packetHeaderLen {
		hl := headerLen(all[0], all[1])
		if len(all) < hl {
			break
		}
		h, err := parsePacketHeader(all)
		if err != nil {
			t.Fatalf("server sent a bad packet: %v", err)
		}
		body := all[hl:min(len(all), hl+h.length)]
		if h.topic == 0 && h.kind == ctrlGoAway {
			code, text, err := parseGoAway(body)
			if err != nil {
				t.Fatal(err)
			}
			return &GoAwayError{Code: code, Text: text, Remote: true}
		}
		all = all[min(len(all), hl+h.length):]
	}
	return nil
}

// Builders of raw packets.
func rawFirst(topic uint8, total int, payload int) []byte {
	return append(appendFirstHeader(nil, topic, payload, total), make([]byte, payload)...)
}

func rawCont(topic uint8, payload int) []byte {
	return append(appendContHeader(nil, topic, payload), make([]byte, payload)...)
}

func rawMessage(topic uint8, size, maxPacket int) []byte {
	n := min(size, maxPacket)
	b := rawFirst(topic, size, n)
	for off := n; off < size; off += n {
		n = min(size-off, maxPacket)
		b = append(b, rawCont(topic, n)...)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// TestProtocolViolations: each way a peer can break the protocol ends the
// connection with a goaway naming the violation, reported once through
// OnViolation.
func TestProtocolViolations(t *testing.T) {
	rawCtrl := func(typ uint8, body ...byte) []byte {
		return append(appendControlHeader(nil, typ, len(body)), body...)
	}
	pings := func(n int) []byte {
		var b []byte
		for i := range n {
			b = appendNonceMsg(b, ctrlPing, uint64(i))
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		input []byte
		kind  ViolationKind
		code  GoAwayCode
		topic uint8
	}{
		{"unknown topic", rawFirst(9, 1, 1), ViolationUnknownTopic, GoAwayProtocolViolation, 9},
		{"message longer than the topic max", rawFirst(1, 1001, 10), ViolationMessageTooLarge, GoAwayProtocolViolation, 1},
		{"packet longer than max", rawFirst(1, 1000, 600), ViolationPacketTooLarge, GoAwayProtocolViolation, 1},
		{"data beyond credit", cat(rawMessage(1, 1000, 512), rawMessage(1, 1000, 512), rawMessage(1, 1000, 512)), ViolationCreditExceeded, GoAwayProtocolViolation, 1},
		{"undefined flags", []byte{1, 0x02, 0, 1, 0}, ViolationMalformedPacket, GoAwayProtocolViolation, 1},
		{"flag bit 7", []byte{1, 0x81, 0, 1, 0, 0, 0, 1, 0}, ViolationMalformedPacket, GoAwayProtocolViolation, 1},
		{"continuation without first", rawCont(1, 5), ViolationMalformedPacket, GoAwayProtocolViolation, 1},
		{"continuation past the end", cat(rawFirst(1, 10, 5), rawCont(1, 10)), ViolationMalformedPacket, GoAwayProtocolViolation, 1},
		{"first packet inside a message", cat(rawFirst(1, 10, 5), rawFirst(1, 10, 5)), ViolationMalformedPacket, GoAwayProtocolViolation, 1},
		{"first packet longer than its message", rawFirst(1, 5, 10), ViolationMalformedPacket, GoAwayProtocolViolation, 1},
		{"empty first packet", rawFirst(1, 5, 0), ViolationMalformedPacket, GoAwayProtocolViolation, 1},
		{"empty continuation", cat(rawFirst(1, 10, 5), rawCont(1, 0)), ViolationMalformedPacket, GoAwayProtocolViolation, 1},
		{"unknown control type", rawCtrl(9), ViolationMalformedControl, GoAwayProtocolViolation, 0},
		{"short ping", rawCtrl(ctrlPing, 1, 2, 3, 4, 5, 6, 7), ViolationMalformedControl, GoAwayProtocolViolation, 0},
		{"second settings", appendSettings(nil, &violClientSettings), ViolationMalformedControl, GoAwayProtocolViolation, 0},
		{"window update for an undeclared topic", rawCtrl(ctrlWindowUpdate, 9, 0, 0, 0, 1), ViolationMalformedControl, GoAwayProtocolViolation, 9},
		{"window update of zero", rawCtrl(ctrlWindowUpdate, 1, 0, 0, 0, 0), ViolationMalformedControl, GoAwayProtocolViolation, 1},
		{"window update of odd length", rawCtrl(ctrlWindowUpdate, 1, 0, 0, 0, 1, 0), ViolationMalformedControl, GoAwayProtocolViolation, 0},
		{"window update that overflows", rawCtrl(ctrlWindowUpdate, 1, 0, 0, 0, 1), ViolationWindowOverflow, GoAwayProtocolViolation, 1},
		{"window update of 2^32-1", rawCtrl(ctrlWindowUpdate, 2, 0xff, 0xff, 0xff, 0xff), ViolationWindowOverflow, GoAwayProtocolViolation, 2},
		{"ack of bytes never sent", rawCtrl(ctrlAck, 0, 0, 0, 0, 0, 0, 0, 1), ViolationMalformedControl, GoAwayProtocolViolation, 0},
		{"short ack", rawCtrl(ctrlAck, 0, 0, 0, 1), ViolationMalformedControl, GoAwayProtocolViolation, 0},
		{"goaway code 0", rawCtrl(ctrlGoAway, 0), ViolationMalformedControl, GoAwayProtocolViolation, 0},
		{"oversized goaway", rawCtrl(ctrlGoAway, make([]byte, 1+maxGoAwayText+1)...), ViolationMalformedControl, GoAwayProtocolViolation, 0},
		{"ping flood", pings(5), ViolationPingFlood, GoAwayProtocolViolation, 0},
		{"persistent rate excess", cat(rawFirst(2, 1, 1), rawFirst(2, 1, 1), rawFirst(2, 1, 1), rawFirst(2, 1, 1), rawFirst(2, 1, 1), rawFirst(2, 1, 1)), ViolationRateExcess, GoAwayRateLimit, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := mcConfig(violTopics)
			cfg.MaxPacketPayload = 512
			cfg.PingBurst, cfg.PingRate = 3, 0.01
			cfg.ExcessTolerance, cfg.ExcessPeriod = 3, time.Hour
			var reported atomic.Pointer[ViolationError]
			var calls, excess atomic.Int32
			cfg.OnViolation = func(c *MultiConn, v *ViolationError) { calls.Add(1); reported.Store(v) }
			cfg.OnRateExcess = func(c *MultiConn, topic uint8) { excess.Add(1) }
			e, s := rawMultiPeer(t, cfg, &violClientSettings)
			if _, err := e.Write(tc.input); err != nil {
				t.Fatal(err)
			}
			ge := readGoAway(t, e)
			if ge == nil || ge.Code != tc.code || !strings.HasPrefix(ge.Text, tc.kind.String()) {
				t.Fatalf("peer received goaway %+v, want code %v text %q…", ge, tc.code, tc.kind)
			}
			mcWaitDone(t, s, 5*time.Second)
			var v *ViolationError
			if !errors.As(s.Err(), &v) || v.Kind != tc.kind || v.Topic != tc.topic || !errors.Is(s.Err(), conn.ErrProtocol) {
				t.Fatalf("Err %v, want %v on topic %d", s.Err(), tc.kind, tc.topic)
			}
			if calls.Load() != 1 || reported.Load() != v {
				t.Fatalf("OnViolation called %d times", calls.Load())
			}
			if tc.kind == ViolationRateExcess && excess.Load() != 4 {
				t.Fatalf("OnRateExcess called %d times, want 4", excess.Load())
			}
			t.Logf("%v", s.Err())
		})
	}
}

// TestSettingsRefusals: New fails when the peer's first packet is
// not a valid SETTINGS matching its declared topics.
func TestSettingsRefusals(t *testing.T) {
	mismatch := violClientSettings
	mismatch.topics = mismatch.topics[:1]
	badWindow := settings{maxPacket: 1024, topics: []topicSettings{{id: 1, maxMessage: 1000, window: 1000}, {id: 2, maxMessage: 1, window: 65}}}
	for _, tc := range []struct {
		name      string
		first     []byte
		violation bool // else the setup times out
	}{
		{"data first", rawFirst(1, 1, 1), true},
		{"ping first", appendNonceMsg(nil, ctrlPing, 1), true},
		{"topics differ from PeerMeta", appendSettings(nil, &mismatch), true},
		{"window below max message", appendSettings(nil, &badWindow), true},
		{"unknown format", func() []byte { b := appendSettings(nil, &violClientSettings); b[4] = 3; return b }(), true},
		{"format 2 cut short", func() []byte { b := appendSettings(nil, &violClientSettings); b[4] = 2; return b }(), true},
		{"max packet too small", func() []byte { b := appendSettings(nil, &violClientSettings); b[5], b[6] = 0, 1; return b }(), true},
		{"truncated", appendSettings(nil, &violClientSettings)[:10], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := mcConfig(violTopics)
			cfg.SetupTimeout = 500 * time.Millisecond
			csc := testSecureConfig(t, 1)
			csc.Meta.Topics = []byte{1, 2}
			ec, es := hs.Pair(t, csc, mcSecureConfig(t, 2, cfg.Topics))
			if _, err := ec.Write(tc.first); err != nil {
				t.Fatal(err)
			}
			// The peer reads what we send until we close, then closes too.
			got := make(chan []byte, 1)
			go func() {
				ec.SetReadDeadline(time.Now().Add(10 * time.Second))
				b, _ := io.ReadAll(ec)
				ec.Close()
				got <- b
			}()
			_, err := New(context.Background(), es, cfg)
			if err == nil || !strings.HasPrefix(err.Error(), "mux: settings exchange") {
				t.Fatalf("New: %v", err)
			}
			t.Log(err)
			ge := goAwayIn(t, <-got)
			var v *ViolationError
			if !tc.violation {
				if ge != nil || errors.As(err, &v) {
					t.Fatalf("setup timeout reported as goaway %v, error %v", ge, err)
				}
				return
			}
			// §8.5: the violation closes with a goaway naming it, and the
			// error says which violation it was.
			if !errors.As(err, &v) || v.Kind != ViolationMalformedControl {
				t.Fatalf("New error %v is not a malformed-control violation", err)
			}
			if ge == nil || ge.Code != GoAwayProtocolViolation || ge.Text != v.text() {
				t.Fatalf("peer received goaway %v, want protocol violation %q", ge, v.text())
			}
		})
	}
}

// goAwayIn returns the GOAWAY among the packets in b, or nil.
func goAwayIn(t *testing.T, b []byte) *GoAwayError {
	t.Helper()
	for len(b) >= packetHeaderLen && len(b) >= headerLen(b[0], b[1]) {
		h, err := parsePacketHeader(b)
		if err != nil {
			t.Fatalf("bad packet: %v", err)
		}
		hl := headerLen(h.topic, h.kind)
		if len(b) < hl+h.length {
			break
		}
		if h.topic == 0 && h.kind == ctrlGoAway {
			code, text, err := parseGoAway(b[hl : hl+h.length])
			if err != nil {
				t.Fatal(err)
			}
			return &GoAwayError{Code: code, Text: text, Remote: true}
		}
		b = b[hl+h.length:]
	}
	return nil
}

// TestSendToUndeclaredTopic: sending on a topic the peer did not declare
// fails at once; the other topics work.
func TestSendToUndeclaredTopic(t *testing.T) {
	ca, _ := mcConfig(mcTestTopics())
	cb, inb := mcConfig(mcTestTopics()[:2]) // b serves topics 1 and 2 only
	a, _ := mcPair(t, ca, cb)
	if a.CanSend(3) || !a.CanSend(1) {
		t.Fatal("CanSend disagrees with the peer's topics")
	}
	if err := a.TrySend(3, []byte("tx")); !errors.Is(err, ErrTopicNotDeclared) {
		t.Fatalf("TrySend on topic 3: %v", err)
	}
	if err := a.Send(context.Background(), 3, []byte("tx")); !errors.Is(err, ErrTopicNotDeclared) {
		t.Fatalf("Send on topic 3: %v", err)
	}
	if err := a.Send(context.Background(), 1, []byte("vote")); err != nil {
		t.Fatal(err)
	}
	inb.recv(t, 1, 5*time.Second)
}

// TestTrySendQueueFull: TrySend fails with ErrQueueFull when the queue is
// full; Send blocks and returns the context's error.
func TestTrySendQueueFull(t *testing.T) {
	topics := []TopicConfig{{ID: 1, MaxMessageSize: 1 << 10, RecvWindow: 1<<10 + 64, SendQueue: 2}}
	ca, _ := mcConfig(topics)
	cb, _ := mcConfig(topics)
	a, _ := mcPair(t, ca, cb)
	// One message uses the whole window; two more fill the queue.
	msg := make([]byte, 1<<10)
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := a.Send(ctx, 1, msg)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, "the queue to drain into credit", func() bool {
			st := a.Stats().Topics[0]
			return st.MsgsSent >= 1 || st.SendQueue > 0
		})
	}
	testutil.Eventually(t, 5*time.Second, "a full queue", func() bool { return a.Stats().Topics[0].SendQueue == 2 })
	if err := a.TrySend(1, msg); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("TrySend: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := a.Send(ctx, 1, msg); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send: %v", err)
	}
}
