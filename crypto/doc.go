// Package crypto holds peerwire's cryptographic building blocks: Ed25519
// identities and their key files, peer IDs and "ID@host:port" addresses, the
// handshake key schedule (X25519 + HKDF-SHA256), and the frame AEAD
// (ChaCha20-Poly1305, RFC 8439) with per-direction nonce accounting and the
// key ratchet used for in-band rekeying.
//
// docs/PROTOCOL.md specifies every byte this package produces.
package crypto
