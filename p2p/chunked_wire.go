package p2p

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/peerwire/peerwire/crypto"
)

// The chunked dissemination messages (docs/PROTOCOL.md §9.9). Integers
// are big-endian.
//
//	header:    0x06 hops:u8 origin:20 nonce:u64 time_ms:u64 total:u32
//	           chunk_size:u32 hash:32×N origin_key:32 signature:64
//	chunk:     0x07 id:32 index:u32 data
//	have:      0x08 id:32 bitmap:⌈N/8⌉ (bit i: byte i/8, bit i%8, LSB first)
//	dont-want: 0x09 id:32
//	want:      0x0a id:32
//	pull request (a request, §9.4, on the same topic): id:32 index:u32
//
// N = ⌈total/chunk_size⌉; every chunk is chunk_size bytes but the last.

// Labels bound into chunked IDs and signatures.
const (
	labelChunkedID  = "peerwire/1 chunked id"
	labelChunkedSig = "peerwire/1 chunked sig"
)

// chunkHeader is a chunked message's origin-signed header.
type chunkHeader struct {
	origin    crypto.ID
	nonce     uint64
	timeMs    uint64
	total     uint32
	chunkSize uint32
	hashes    [][32]byte
	key       []byte // origin's Ed25519 public key
	sig       []byte // over labelChunkedSig ‖ ID
}

// chunks returns N, the number of chunks of a total-byte message.
func numChunks(total, chunkSize uint32) int {
	return int((uint64(total) + uint64(chunkSize) - 1) / uint64(chunkSize))
}

// chunkLen returns the length of chunk i.
func (h *chunkHeader) chunkLen(i int) int {
	if i == len(h.hashes)-1 {
		return int(h.total) - i*int(h.chunkSize)
	}
	return int(h.chunkSize)
}

// chunkHeaderFixed is a header's length without its hashes.
const chunkHeaderFixed = 2 + idSize + 8 + 8 + 4 + 4 + ed25519.PublicKeySize + ed25519.SignatureSize

// signedPart appends what the ID covers: the label, the topic and the
// header from origin to the last hash.
func (h *chunkHeader) idInput(topic uint8) []byte {
	b := make([]byte, 0, len(labelChunkedID)+1+idSize+24+32*len(h.hashes))
	b = append(b, labelChunkedID...)
	b = append(b, topic)
	return h.appendBody(b)
}

func (h *chunkHeader) appendBody(b []byte) []byte {
	b = append(b, h.origin[:]...)
	b = binary.BigEndian.AppendUint64(b, h.nonce)
	b = binary.BigEndian.AppendUint64(b, h.timeMs)
	b = binary.BigEndian.AppendUint32(b, h.total)
	b = binary.BigEndian.AppendUint32(b, h.chunkSize)
	for i := range h.hashes {
		b = append(b, h.hashes[i][:]...)
	}
	return b
}

// chunkedID computes a header's message ID: SHA-256 over the label, the
// topic and the header's fields but hops, key and signature. Every node
// computes it; it is never taken from the wire.
func chunkedID(topic uint8, h *chunkHeader) MessageID {
	return MessageID(sha256.Sum256(h.idInput(topic)))
}

// chunkedSigningInput is what the origin signs.
func chunkedSigningInput(id MessageID) []byte {
	return append([]byte(labelChunkedSig), id[:]...)
}

// encodeChunkHeader returns the header message with hop count hops.
func encodeChunkHeader(h *chunkHeader, hops uint8) []byte {
	b := make([]byte, 0, chunkHeaderFixed+32*len(h.hashes))
	b = append(b, kindChunkHeader, hops)
	b = h.appendBody(b)
	b = append(b, h.key...)
	return append(b, h.sig...)
}

var (
	errChunkSize  = errors.New("p2p: chunked header's sizes out of range")
	errChunkShort = errors.New("p2p: chunked message too short")
)

// parseChunkHeader decodes a header message, checking its layout and
// bounds only: total 1–maxTotal, chunk size minChunkSize–MaxChunkSize,
// exact length, hops 1–maxHops (a higher count is cut to maxHops, as for
// gossip). The signature is checked apart (verifyChunkHeader). It never
// panics on any input.
func parseChunkHeader(data []byte, maxTotal int, maxHops uint8) (*chunkHeader, uint8, error) {
	if len(data) < chunkHeaderFixed || data[0] != kindChunkHeader {
		return nil, 0, errChunkShort
	}
	hops := data[1]
	if hops == 0 {
		return nil, 0, errGossipHops
	}
	hops = min(hops, maxHops)
	h := &chunkHeader{}
	p := data[2:]
	copy(h.origin[:], p)
	p = p[idSize:]
	h.nonce = binary.BigEndian.Uint64(p)
	h.timeMs = binary.BigEndian.Uint64(p[8:])
	h.total = binary.BigEndian.Uint32(p[16:])
	h.chunkSize = binary.BigEndian.Uint32(p[20:])
	p = p[24:]
	if h.total == 0 || uint64(h.total) > uint64(maxTotal) || h.chunkSize < MinChunkSize || h.chunkSize > MaxChunkSize {
		return nil, 0, errChunkSize
	}
	n := numChunks(h.total, h.chunkSize)
	if n > MaxChunks || len(p) != 32*n+ed25519.PublicKeySize+ed25519.SignatureSize {
		return nil, 0, fmt.Errorf("p2p: chunked header of %d bytes for %d chunks", len(data), n)
	}
	h.hashes = make([][32]byte, n)
	for i := range h.hashes {
		copy(h.hashes[i][:], p[32*i:])
	}
	p = p[32*n:]
	// Copied: the header outlives the received message's buffer.
	h.key = append([]byte(nil), p[:ed25519.PublicKeySize]...)
	h.sig = append([]byte(nil), p[ed25519.PublicKeySize:]...)
	return h, hops, nil
}

// verifyChunkHeader checks the origin's signature over id, and that the key
// is the origin's.
func verifyChunkHeader(h *chunkHeader, id MessageID) error {
	if crypto.IDFromPublicKey(h.key) != h.origin || !ed25519.Verify(h.key, chunkedSigningInput(id), h.sig) {
		return errGossipSignature
	}
	return nil
}

// chunkHead is a chunk message's length before the chunk's bytes.
const chunkHead = 37

// chunkPrefix returns the start of a chunk message (kind, ID, index), with
// room for room bytes of the chunk to be appended.
func chunkPrefix(id MessageID, i, room int) []byte {
	b := make([]byte, 0, chunkHead+room)
	b = append(b, kindChunk)
	b = append(b, id[:]...)
	return binary.BigEndian.AppendUint32(b, uint32(i))
}

// parseChunk decodes a chunk message's ID, index and bytes (not copied).
func parseChunk(data []byte) (MessageID, int, []byte, error) {
	var id MessageID
	if len(data) < 38 || data[0] != kindChunk {
		return id, 0, nil, errChunkShort
	}
	copy(id[:], data[1:33])
	i := binary.BigEndian.Uint32(data[33:37])
	if i >= MaxChunks {
		return id, 0, nil, fmt.Errorf("p2p: chunk index %d out of range", i)
	}
	return id, int(i), data[37:], nil
}

// encodeHave returns a have message for bitmap.
func encodeHave(id MessageID, bitmap []byte) []byte {
	b := make([]byte, 0, 33+len(bitmap))
	b = append(b, kindHave)
	b = append(b, id[:]...)
	return append(b, bitmap...)
}

// parseHave decodes a have message's ID and bitmap (not copied); the
// bitmap's length is checked against the header by checkBitmap.
func parseHave(data []byte) (MessageID, []byte, error) {
	var id MessageID
	if len(data) < 34 || data[0] != kindHave || len(data)-33 > (MaxChunks+7)/8 {
		return id, nil, errChunkShort
	}
	copy(id[:], data[1:33])
	return id, data[33:], nil
}

// checkBitmap reports whether bm is a bitmap of exactly n chunks: ⌈n/8⌉
// bytes, the bits past n zero.
func checkBitmap(bm []byte, n int) error {
	if len(bm) != (n+7)/8 {
		return fmt.Errorf("p2p: have bitmap of %d bytes for %d chunks", len(bm), n)
	}
	if r := n % 8; r != 0 && bm[len(bm)-1]>>r != 0 {
		return errors.New("p2p: have bitmap sets bits past the last chunk")
	}
	return nil
}

// bitmapCount returns how many bits bm sets.
func bitmapCount(bm []byte) int {
	c := 0
	for _, b := range bm {
		c += bits.OnesCount8(b)
	}
	return c
}

func bitSet(bm []byte, i int) bool { return bm[i/8]&(1<<(i%8)) != 0 }
func setBit(bm []byte, i int)      { bm[i/8] |= 1 << (i % 8) }

// encodeDontWant returns a dont-want message.
func encodeDontWant(id MessageID) []byte {
	return append([]byte{kindDontWant}, id[:]...)
}

// parseDontWant decodes a dont-want message's ID.
func parseDontWant(data []byte) (MessageID, error) {
	var id MessageID
	if len(data) != 33 || data[0] != kindDontWant {
		return id, errChunkShort
	}
	copy(id[:], data[1:])
	return id, nil
}

// encodePull returns a pull request's body.
func encodePull(id MessageID, i int) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), id[:]...), uint32(i))
}

// parsePull decodes a pull request's body.
func parsePull(body []byte) (MessageID, int, error) {
	var id MessageID
	if len(body) != 36 {
		return id, 0, fmt.Errorf("p2p: pull request of %d bytes, want 36", len(body))
	}
	copy(id[:], body)
	i := binary.BigEndian.Uint32(body[32:])
	if i >= MaxChunks {
		return id, 0, fmt.Errorf("p2p: pull of chunk %d out of range", i)
	}
	return id, int(i), nil
}

// encodeWant returns a want message: push me this message's chunks.
func encodeWant(id MessageID) []byte {
	return append([]byte{kindWant}, id[:]...)
}

// parseWant decodes a want message's ID.
func parseWant(data []byte) (MessageID, error) {
	var id MessageID
	if len(data) != 33 || data[0] != kindWant {
		return id, errChunkShort
	}
	copy(id[:], data[1:])
	return id, nil
}

func isChunkedKind(k byte) bool { return k >= kindChunkHeader && k <= kindWant }

// idSize is a peer ID's length on the wire.
const idSize = len(crypto.ID{})
