package lab

import (
	"crypto/sha256"

	"github.com/peerwire/peerwire/crypto"
)

// Identity is the deterministic identity of the lab node called name, so a
// test knows every node's ID (for must-connect and bootstrap addresses)
// before the node starts.
func Identity(name string) *crypto.Identity {
	seed := sha256.Sum256([]byte("peerwire-lab/" + name))
	id, err := crypto.IdentityFromSeed(seed[:])
	if err != nil {
		panic(err) // a 32-byte seed is always valid
	}
	return id
}

// NodeAddr is "ID@host:port" for the lab node name.
func NodeAddr(name, hostPort string) string {
	return Identity(name).ID().String() + "@" + hostPort
}
