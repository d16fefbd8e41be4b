package p2p

import "github.com/peerwire/peerwire/crypto"

// Peer IDs and addresses at the public surface: aliases of crypto's, so a
// caller of the Node (like the admin API) parses what it passes to Dial,
// Ban or Send with p2p alone.

// ID identifies a peer: the first IDLen bytes of SHA-256 over its Ed25519
// public key, printed as 40 lowercase hex digits. It is crypto.ID.
type ID = crypto.ID

// Address is a peer's dialable address, "ID@host:port". It is
// crypto.Address.
type Address = crypto.Address

// IDLen is the length of a peer ID in bytes.
const IDLen = crypto.IDLen

// ParseID parses the 40-hex-digit form of a peer ID (crypto.ParseID).
func ParseID(s string) (ID, error) { return crypto.ParseID(s) }

// ParseAddress parses "ID@host:port" (crypto.ParseAddress).
func ParseAddress(s string) (Address, error) { return crypto.ParseAddress(s) }

// ParseDialAddress parses "ID@host:port" or plain "host:port", whose
// Address has a zero ID (crypto.ParseDialAddress).
func ParseDialAddress(s string) (Address, error) { return crypto.ParseDialAddress(s) }
