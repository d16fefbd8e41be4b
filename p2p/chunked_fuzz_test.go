package p2p

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// FuzzChunkedMessage feeds arbitrary bytes to the decoders of the chunked
// kinds (§9.9), as onChunked does: none panics, and a header that decodes
// encodes back to the same bytes (hops within the limit).
func FuzzChunkedMessage(f *testing.F) {
	for _, name := range []string{"chunked_header", "chunked_chunk_1", "chunked_have", "chunked_dont_want", "chunked_want"} {
		b, err := hex.DecodeString(chunkedVectorsForFuzz[name])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{kindChunkHeader})
	f.Add([]byte{kindHave, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		switch data[0] {
		case kindChunkHeader:
			h, hops, err := parseChunkHeader(data, 4<<20, 255)
			if err != nil {
				return
			}
			if got := encodeChunkHeader(h, hops); !bytes.Equal(got, data) {
				t.Fatalf("header re-encodes to %x, want %x", got, data)
			}
			_ = verifyChunkHeader(h, chunkedID(2, h))
			for i := range h.hashes {
				if n := h.chunkLen(i); n < 1 || n > int(h.chunkSize) {
					t.Fatalf("chunk %d of %d bytes, chunk size %d", i, n, h.chunkSize)
				}
			}
		case kindChunk:
			if id, i, b, err := parseChunk(data); err == nil {
				if got := append(chunkPrefix(id, i, len(b)), b...); !bytes.Equal(got, data) {
					t.Fatalf("chunk re-encodes differently")
				}
			}
		case kindHave:
			if _, bm, err := parseHave(data); err == nil {
				for n := 1; n <= 8*len(bm) && n <= MaxChunks; n++ {
					_ = checkBitmap(bm, n)
				}
				_ = bitmapCount(bm)
			}
		case kindDontWant:
			_, _ = parseDontWant(data)
		case kindWant:
			_, _ = parseWant(data)
		}
	})
}

// FuzzChunkedPull feeds arbitrary request bodies to the pull decoder.
func FuzzChunkedPull(f *testing.F) {
	b, _ := hex.DecodeString(chunkedVectorsForFuzz["chunked_pull"])
	f.Add(b)
	f.Add([]byte("not a pull"))
	f.Fuzz(func(t *testing.T, body []byte) {
		id, i, err := parsePull(body)
		if err == nil && !bytes.Equal(encodePull(id, i), body) {
			t.Fatalf("pull re-encodes differently")
		}
	})
}

// chunkedVectorsForFuzz are the seed messages of the fuzz targets
// (testdata/chunked_vectors.json, §9.10).
var chunkedVectorsForFuzz = map[string]string{
	"chunked_header":    "060a519cae93e93ad011d785355894405ed8fa8162c601020304050607080000018bcfe568000000040600000400785b0751fc2c53dc14a4ce3d800e69ef9ce1009eb327ccf458afe09c242c26c917e88db187afd62c16e5debf3e6527cd006bc012bc90b51a810cd80c2d511f43cd14b37f956e953194ff7fb73b3d81dcc561d61a7538094b7c3e1a643ee5f3aa3c31715e08b96cea92dded165661cd86a37846443cead7c3ac62ea0305c1252522b7c4235edc5f0511f6beef18336f265d47530360b45d803423bfed76254603",
	"chunked_chunk_1":   "0728e42bc04bbd9abbeddb2c0b135e9b961cf8481c4c4317079d10686ca812a93e00000001000102030405",
	"chunked_have":      "0828e42bc04bbd9abbeddb2c0b135e9b961cf8481c4c4317079d10686ca812a93e03",
	"chunked_dont_want": "0928e42bc04bbd9abbeddb2c0b135e9b961cf8481c4c4317079d10686ca812a93e",
	"chunked_pull":      "28e42bc04bbd9abbeddb2c0b135e9b961cf8481c4c4317079d10686ca812a93e00000001",
}
