package conn

import (
	"bytes"
	"errors"
	"testing"
)

// Known-answer encodings of control messages (docs/PROTOCOL.md §8).
func TestControlVectors(t *testing.T) {
	s := settings{maxPacket: 16384, recvRate: 1 << 20, topics: []topicSettings{{id: 1, maxMessage: 65536, window: 1 << 20}}}
	for _, tc := range []struct {
		name string
		got  []byte
		want []byte
	}{
		{"settings", appendSettings(nil, &s), []byte{
			0, 1, 0, 16, // control, SETTINGS, 16-byte body
			1, 0x40, 0x00, 0, 0x10, 0, 0, // version 1, max packet 16384, rate 1 MiB/s
			1, 0, 1, 0, 0, 0, 0x10, 0, 0, // topic 1, max message 65536, window 1 MiB
		}},
		{"ping", appendNonceMsg(nil, ctrlPing, 0x0102030405060708), []byte{0, 2, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}},
		{"pong", appendNonceMsg(nil, ctrlPong, 1), []byte{0, 3, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1}},
		{"window update", appendWindowUpdates(nil, []windowUpdate{{1, 65536}, {200, 1}}), []byte{0, 4, 0, 10, 1, 0, 1, 0, 0, 200, 0, 0, 0, 1}},
		{"goaway", appendGoAwayMsg(nil, GoAwayBanned, "spam"), []byte{0, 5, 0, 5, 3, 's', 'p', 'a', 'm'}},
		{"ack", appendAck(nil, 1<<32+5), []byte{0, 6, 0, 8, 0, 0, 0, 1, 0, 0, 0, 5}},
	} {
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("%s:\n got %x\nwant %x", tc.name, tc.got, tc.want)
		}
	}
	got, err := parseSettings(appendSettings(nil, &s)[packetHeaderLen:])
	if err != nil || got.maxPacket != s.maxPacket || got.recvRate != s.recvRate || len(got.topics) != 1 || got.topics[0] != s.topics[0] {
		t.Fatalf("settings round trip: %+v, %v", got, err)
	}
	long := appendGoAwayMsg(nil, GoAwayShutdown, string(bytes.Repeat([]byte("é"), 200)))
	if len(long)-packetHeaderLen-1 > maxGoAwayText {
		t.Fatalf("goaway text not cut: %d bytes", len(long))
	}
	if _, text, err := parseGoAway(long[packetHeaderLen:]); err != nil || text != string(bytes.Repeat([]byte("é"), 128)) {
		t.Fatalf("goaway text cut badly: %q %v", text, err)
	}
}

// FuzzControl feeds arbitrary bodies to every control decoder: no panics,
// every error is a violation, and what decodes re-encodes to the same bytes.
func FuzzControl(f *testing.F) {
	s := settings{maxPacket: 16384, topics: []topicSettings{{id: 1, maxMessage: 100, window: 1000}, {id: 9, maxMessage: 1, window: 65}}}
	f.Add(ctrlSettings, appendSettings(nil, &s)[packetHeaderLen:])
	f.Add(ctrlPing, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(ctrlWindowUpdate, []byte{1, 0, 0, 1, 0, 2, 0, 0, 0, 9})
	f.Add(ctrlGoAway, []byte{4, 'b', 'a', 'd', 0xff})
	f.Add(ctrlAck, []byte{0, 0, 0, 0, 0, 1, 0, 0})
	f.Add(uint8(99), []byte{})
	f.Fuzz(func(t *testing.T, typ uint8, body []byte) {
		isViolation := func(err error) {
			var v *ViolationError
			if err != nil && !errors.As(err, &v) {
				t.Fatalf("error %v is not a violation", err)
			}
		}
		lo, hi, ok := controlBodyBounds(typ)
		if !ok || len(body) < lo || len(body) > hi {
			return // the reader refuses these before decoding
		}
		var re []byte
		switch typ {
		case ctrlSettings:
			s, err := parseSettings(body)
			isViolation(err)
			if err != nil {
				return
			}
			re = appendSettings(nil, &s)
		case ctrlPing, ctrlPong:
			n, err := parseNonce(body)
			isViolation(err)
			re = appendNonceMsg(nil, typ, n)
		case ctrlWindowUpdate:
			var ups []windowUpdate
			err := parseWindowUpdates(body, func(topic uint8, inc uint32) error {
				ups = append(ups, windowUpdate{topic, inc})
				return nil
			})
			isViolation(err)
			if err != nil {
				return
			}
			re = appendWindowUpdates(nil, ups)
		case ctrlAck:
			n, err := parseAck(body)
			isViolation(err)
			re = appendAck(nil, n)
		case ctrlGoAway:
			code, text, err := parseGoAway(body)
			isViolation(err)
			if err != nil {
				return
			}
			if len(text) > 3*maxGoAwayText {
				t.Fatalf("goaway text of %d bytes", len(text))
			}
			if string(body[1:]) != text { // invalid UTF-8 was replaced
				return
			}
			re = appendGoAwayMsg(nil, code, text)
		}
		if !bytes.Equal(re[packetHeaderLen:], body) {
			t.Fatalf("type %d body %x re-encodes as %x", typ, body, re[packetHeaderLen:])
		}
	})
}
