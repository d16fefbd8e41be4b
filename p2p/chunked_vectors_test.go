package p2p

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"testing"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
)

var updateChunkedVectors = flag.Bool("update-chunked-vectors", false, "rewrite testdata/chunked_vectors.json from this implementation")

// computeChunkedVectors builds the chunked messages of docs/PROTOCOL.md
// §9.10 from their fixed inputs, checks that the decoders take each back,
// and returns every value by name, hex encoded.
func computeChunkedVectors(t *testing.T) map[string]string {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = 0x80 + byte(i)
	}
	origin, err := crypto.IdentityFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	const topic, chunk = 2, 1024
	payload := make([]byte, 1030) // byte i is i mod 256: chunks of 1024 and 6 bytes
	for i := range payload {
		payload[i] = byte(i)
	}
	h := &chunkHeader{origin: origin.ID(), nonce: 0x0102030405060708, timeMs: 1_700_000_000_000,
		total: uint32(len(payload)), chunkSize: chunk,
		hashes: [][32]byte{sha256.Sum256(payload[:chunk]), sha256.Sum256(payload[chunk:])}}
	pre := h.idInput(topic)
	id := chunkedID(topic, h)
	if sha256.Sum256(pre) != id {
		t.Fatal("the documented ID preimage does not hash to the ID")
	}
	input := chunkedSigningInput(id)
	h.key, h.sig = origin.PublicKey(), origin.Sign(input)
	header := encodeChunkHeader(h, 10)
	got, hops, err := parseChunkHeader(header, 1<<20, 10)
	if err != nil || hops != 10 || chunkedID(topic, got) != id || verifyChunkHeader(got, id) != nil {
		t.Fatalf("header vector does not decode and verify: %v", err)
	}
	c1 := append(chunkPrefix(id, 1, 6), payload[chunk:]...)
	if gid, i, b, err := parseChunk(c1); err != nil || gid != id || i != 1 || !bytes.Equal(b, payload[chunk:]) {
		t.Fatalf("chunk vector does not decode: %v", err)
	}
	have := encodeHave(id, []byte{0x03})
	if gid, bm, err := parseHave(have); err != nil || gid != id || checkBitmap(bm, 2) != nil {
		t.Fatalf("have vector does not decode: %v", err)
	}
	dw := encodeDontWant(id)
	if gid, err := parseDontWant(dw); err != nil || gid != id {
		t.Fatalf("dont-want vector does not decode: %v", err)
	}
	want := encodeWant(id)
	if gid, err := parseWant(want); err != nil || gid != id {
		t.Fatalf("want vector does not decode: %v", err)
	}
	pull := encodePull(id, 1)
	if gid, i, err := parsePull(pull); err != nil || gid != id || i != 1 {
		t.Fatalf("pull vector does not decode: %v", err)
	}
	v := map[string]string{}
	put := func(name string, b []byte) { v[name] = hex.EncodeToString(b) }
	put("chunked_hash_0", h.hashes[0][:])
	put("chunked_hash_1", h.hashes[1][:])
	put("chunked_id_preimage", pre)
	put("chunked_id", id[:])
	put("chunked_signature", h.sig)
	put("chunked_header", header)
	put("chunked_chunk_1", c1)
	put("chunked_have", have)
	put("chunked_dont_want", dw)
	put("chunked_want", want)
	put("chunked_pull", pull)
	return v
}

// TestChunkedVectors checks this implementation against
// testdata/chunked_vectors.json and checks that docs/PROTOCOL.md quotes
// every value (go test ./p2p -run TestChunkedVectors
// -update-chunked-vectors rewrites the file).
func TestChunkedVectors(t *testing.T) {
	testutil.CheckVectors(t, computeChunkedVectors(t), "testdata/chunked_vectors.json", "../docs/PROTOCOL.md", *updateChunkedVectors)
}
