package mux

import (
	"bytes"
	"errors"
	"testing"
)

// Known-answer encodings of control messages (docs/PROTOCOL.md §8).
func TestControlVectors(t *testing.T) {
	s := settings{maxPacket: 16384, recvRate: 1 << 20, topics: []topicSettings{{id: 1, maxMessage: 65536, window: 1 << 20}}}
	sf := s
	sf.features = []featureEntry{{id: 0x42}, {id: 0x8001, flags: featureRequired, value: []byte{0xab, 0xcd}}}
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
		{"settings with features", appendSettings(nil, &sf), []byte{
			0, 1, 0, 28, // control, SETTINGS, 28-byte body
			2, 0x40, 0x00, 0, 0x10, 0, 0, // format 2, max packet 16384, rate 1 MiB/s
			1,                            // one topic
			1, 0, 1, 0, 0, 0, 0x10, 0, 0, // topic 1, max message 65536, window 1 MiB
			2,                   // two features
			0x00, 0x42, 0x00, 0, // feature 0x0042, optional, no value
			0x80, 0x01, 0x01, 2, 0xab, 0xcd, // feature 0x8001, required, value ab cd
		}},
		{"ping", appendNonceMsg(nil, ctrlPing, 0x0102030405060708), []byte{0, 2, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}},
		{"pong", appendNonceMsg(nil, ctrlPong, 1), []byte{0, 3, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1}},
		{"window update", pendingGrants(wuEntry{1, 65536}, wuEntry{200, 1}).appendWindowUpdates(nil), []byte{0, 4, 0, 10, 1, 0, 1, 0, 0, 200, 0, 0, 0, 1}},
		{"no window update due", pendingGrants().appendWindowUpdates([]byte{7}), []byte{7}},
		{"goaway", appendGoAwayMsg(nil, GoAwayBanned, "spam"), []byte{0, 5, 0, 5, 3, 's', 'p', 'a', 'm'}},
		{"ack", appendAck(nil, 1<<32+5), []byte{0, 6, 0, 8, 0, 0, 0, 1, 0, 0, 0, 5}},
	} {
		if !bytes.Equal(tc.got, tc.want) {
			t.Errorf("%s:\n got %x\nwant %x", tc.name, tc.got, tc.want)
		}
	}
	got, err := parseSettings(appendSettings(nil, &s)[packetHeaderLen:])
	if err != nil || got.maxPacket != s.maxPacket || got.recvRate != s.recvRate || len(got.topics) != 1 || got.topics[0] != s.topics[0] || got.features != nil {
		t.Fatalf("settings round trip: %+v, %v", got, err)
	}
	got, err = parseSettings(appendSettings(nil, &sf)[packetHeaderLen:])
	if err != nil || got.maxPacket != s.maxPacket || len(got.topics) != 1 || got.topics[0] != s.topics[0] || len(got.features) != 2 ||
		got.features[0].id != 0x42 || got.features[0].required() || !got.features[1].required() || !bytes.Equal(got.features[1].value, []byte{0xab, 0xcd}) {
		t.Fatalf("settings with features round trip: %+v, %v", got, err)
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
	s.features = []featureEntry{{id: 1, flags: featureRequired, value: []byte{1, 2}}, {id: 0x8000, flags: 0xfe}, {id: 0xffff}}
	f.Add(ctrlSettings, appendSettings(nil, &s)[packetHeaderLen:])
	s.topics = nil
	f.Add(ctrlSettings, appendSettings(nil, &s)[packetHeaderLen:])
	f.Add(ctrlSettings, []byte{2, 0x40, 0, 0, 0, 0, 0, 0, 0})             // format 2, no topic, no feature
	f.Add(ctrlSettings, []byte{2, 0x40, 0, 0, 0, 0, 0, 0, 1, 0, 9, 0, 3}) // a value past the end
	f.Add(ctrlSettings, []byte{3, 0x40, 0, 0, 0, 0, 0})                   // unknown format
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
			for i, f := range s.features {
				if f.id == 0 || (i > 0 && s.features[i-1].id >= f.id) || len(f.value) > MaxFeatureValue {
					t.Fatalf("accepted features %+v", s.features)
				}
			}
			if body[0] == settingsFeatures && len(s.features) == 0 {
				return // a format-2 SETTINGS without features: we send format 1 instead
			}
			re = appendSettings(nil, &s)
		case ctrlPing, ctrlPong:
			n, err := parseNonce(body)
			isViolation(err)
			re = appendNonceMsg(nil, typ, n)
		case ctrlWindowUpdate:
			var ups []wuEntry
			ascending := true
			err := parseWindowUpdates(body, func(topic uint8, inc uint32) error {
				ascending = ascending && (len(ups) == 0 || ups[len(ups)-1].topic < topic) && inc <= MaxRecvWindow
				ups = append(ups, wuEntry{topic, inc})
				return nil
			})
			isViolation(err)
			if err != nil {
				return
			}
			re = startWindowUpdate(nil)
			for _, u := range ups {
				re = appendWindowEntry(re, u.topic, u.inc)
			}
			re = endWindowUpdate(re, 0)
			if ascending {
				// Entries the writer itself can produce: its encoder, fed
				// the same grants, writes the same bytes and hands the
				// credit over.
				c := pendingGrants(ups...)
				if got := c.appendWindowUpdates(nil); !bytes.Equal(got, re) {
					t.Fatalf("writer encodes %v as %x, want %x", ups, got, re)
				}
				for i, tp := range c.topics {
					if tp.pending.Load() != 0 || tp.avail.Load() != int64(ups[i].inc) {
						t.Fatalf("topic %d: pending %d, avail %d after granting %d", tp.id, tp.pending.Load(), tp.avail.Load(), ups[i].inc)
					}
				}
			}
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

// wuEntry is one WINDOW_UPDATE entry.
type wuEntry struct {
	topic uint8
	inc   uint32
}

// pendingGrants returns a MultiConn holding what its writer's
// appendWindowUpdates reads: topics (ascending, as a MultiConn's are) with
// credit consumed and due to be granted back.
func pendingGrants(ups ...wuEntry) *MultiConn {
	c := &MultiConn{}
	for _, u := range ups {
		tp := &topic{id: u.topic, threshold: 1}
		tp.pending.Store(int64(u.inc))
		c.topics = append(c.topics, tp)
	}
	return c
}
