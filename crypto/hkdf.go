package crypto

import "crypto/sha256"

// HKDF-SHA256 (RFC 5869) and HMAC-SHA256 (RFC 2104) over stack buffers.
// The standard library's crypto/hkdf builds its hashes behind interfaces,
// which costs some 3 KB of heap per handshake; these functions hash
// concatenations held in fixed arrays with sha256.Sum256 and allocate
// nothing for the handshake's and rekey's inputs (keys and messages up to
// hmacStackMsg bytes; longer ones are correct but use the heap).

// hmacStackMsg is the longest message hmacSHA256 hashes without the heap:
// HKDF-Expand's T(i-1) || info || counter for any label here (and RFC
// 5869's 80-byte test infos).
const hmacStackMsg = 192

const sha256Block = 64

// hmacSHA256 returns HMAC-SHA256(key, msg[0] || msg[1] || ...).
func hmacSHA256(key []byte, msg ...[]byte) [sha256.Size]byte {
	var k [sha256Block]byte
	if len(key) > sha256Block {
		sum := sha256.Sum256(key)
		copy(k[:], sum[:])
	} else {
		copy(k[:], key)
	}
	var inner [sha256Block + hmacStackMsg]byte
	in := inner[:sha256Block]
	for i, b := range k {
		in[i] = b ^ 0x36
	}
	for _, m := range msg {
		in = append(in, m...)
	}
	innerSum := sha256.Sum256(in)
	var outer [sha256Block + sha256.Size]byte
	for i, b := range k {
		outer[i] = b ^ 0x5c
	}
	copy(outer[sha256Block:], innerSum[:])
	out := sha256.Sum256(outer[:])
	clear(k[:])
	clear(in)
	clear(innerSum[:])
	clear(outer[:])
	return out
}

// hkdfExtract is HKDF-Extract-SHA256: PRK = HMAC(salt, ikm). An empty salt
// means 32 zero bytes (RFC 5869 §2.2), which HMAC's zero padding gives.
func hkdfExtract(salt, ikm []byte) [sha256.Size]byte {
	return hmacSHA256(salt, ikm)
}

// hkdfExpand is HKDF-Expand-SHA256: it fills out (at most 255 × 32 bytes)
// from prk and info.
func hkdfExpand(out []byte, prk [sha256.Size]byte, info string) {
	if len(out) > 255*sha256.Size {
		panic("crypto: HKDF-Expand output longer than 255 blocks")
	}
	var t [sha256.Size]byte
	var ctr [1]byte
	for i := 0; len(out) > 0; i++ {
		ctr[0] = byte(i + 1)
		var prev []byte
		if i > 0 {
			prev = t[:]
		}
		t = hmacSHA256(prk[:], prev, []byte(info), ctr[:])
		out = out[copy(out, t[:]):]
	}
	clear(t[:])
}
