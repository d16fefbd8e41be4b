package mux

import (
	"bytes"
	"errors"
	"testing"
)

// Known-answer encodings of packet headers (docs/PROTOCOL.md §8).
func TestPacketHeaderVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  []byte
		want packetHeader
	}{
		{"first packet", appendFirstHeader(nil, 3, 0x1234, 0x01020304), packetHeader{topic: 3, kind: flagFirst, length: 0x1234, total: 0x01020304}},
		{"continuation", appendContHeader(nil, 255, 16384), packetHeader{topic: 255, length: 16384}},
		{"empty message", appendFirstHeader(nil, 1, 0, 0), packetHeader{topic: 1, kind: flagFirst}},
		{"control", appendControlHeader(nil, ctrlPing, 8), packetHeader{topic: 0, kind: ctrlPing, length: 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := parsePacketHeader(tc.enc)
			if err != nil || h != tc.want || len(tc.enc) != headerLen(tc.enc[0], tc.enc[1]) {
				t.Fatalf("parse %x = %+v, %v; want %+v", tc.enc, h, err, tc.want)
			}
		})
	}
	if got := appendFirstHeader(nil, 3, 0x1234, 0x01020304); !bytes.Equal(got, []byte{3, 1, 0x12, 0x34, 1, 2, 3, 4}) {
		t.Fatalf("first header %x", got)
	}
	if got := appendContHeader(nil, 7, 5); !bytes.Equal(got, []byte{7, 0, 0, 5}) {
		t.Fatalf("continuation header %x", got)
	}
}

func TestPacketHeaderRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"undefined flag", []byte{1, 2, 0, 1}},
		{"first and undefined flag", []byte{1, 3, 0, 1, 0, 0, 0, 1}},
		{"payload beyond total", []byte{1, 1, 0, 2, 0, 0, 0, 1}},
		{"empty first of a non-empty message", []byte{1, 1, 0, 0, 0, 0, 0, 1}},
		{"empty continuation", []byte{1, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parsePacketHeader(tc.b)
			var v *ViolationError
			if !errors.As(err, &v) || v.Kind != ViolationMalformedPacket {
				t.Fatalf("got %v", err)
			}
		})
	}
}

// FuzzPacket feeds arbitrary bytes to the packet header decoder as a
// stream of packets: it never panics, never reads past what it was given,
// and every header it accepts re-encodes to the same bytes.
func FuzzPacket(f *testing.F) {
	f.Add(appendFirstHeader(nil, 1, 3, 3))
	f.Add(append(appendFirstHeader(nil, 2, 2, 4), 'a', 'b', 0, 2, 0, 2, 'c', 'd'))
	f.Add(appendContHeader(nil, 1, 1))
	f.Add(appendNonceMsg(nil, ctrlPing, 7))
	f.Add([]byte{1, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) >= packetHeaderLen {
			hl := headerLen(b[0], b[1])
			if len(b) < hl {
				return
			}
			h, err := parsePacketHeader(b[:hl])
			if err != nil {
				var v *ViolationError
				if !errors.As(err, &v) {
					t.Fatalf("error %v is not a violation", err)
				}
				return
			}
			if h.length < 0 || h.length > 0xffff || h.total < 0 || (h.first() && h.length > h.total) {
				t.Fatalf("out-of-range header %+v", h)
			}
			var re []byte
			switch {
			case h.topic == 0:
				re = appendControlHeader(nil, h.kind, h.length)
			case h.first():
				re = appendFirstHeader(nil, h.topic, h.length, h.total)
			default:
				re = appendContHeader(nil, h.topic, h.length)
			}
			if !bytes.Equal(re, b[:hl]) {
				t.Fatalf("header %x re-encodes as %x", b[:hl], re)
			}
			b = b[hl:]
			b = b[min(len(b), h.length):]
		}
	})
}
