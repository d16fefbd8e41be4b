package dht

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// vectorSeeds returns the vector file's values as fuzz seeds.
func vectorSeeds(f *testing.F) {
	raw, err := os.ReadFile("testdata/dht_vectors.json")
	if err != nil {
		f.Fatal(err)
	}
	var v map[string]string
	if err := json.Unmarshal(raw, &v); err != nil {
		f.Fatal(err)
	}
	for _, h := range v {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{byte(MsgNodes), 0, 0, MaxNodes + 1})
}

// FuzzDecodeMessage checks that DecodeMessage never panics, and that what
// it accepts encodes back to the same bytes (the format has one encoding).
func FuzzDecodeMessage(f *testing.F) {
	vectorSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		enc, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", enc, b)
		}
	})
}

// FuzzDecodeRecord checks that DecodeRecord never panics and that a
// record it accepts keeps its bounds.
func FuzzDecodeRecord(f *testing.F) {
	vectorSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(vectorNetwork, b)
		if err != nil {
			return
		}
		if len(r.Bytes()) > MaxRecordSize || len(r.Addrs) > MaxRecordAddrs || !bytes.Equal(r.Bytes(), b) {
			t.Fatalf("accepted record out of bounds: %d bytes, %d addresses", len(r.Bytes()), len(r.Addrs))
		}
	})
}
