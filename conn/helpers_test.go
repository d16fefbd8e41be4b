package conn

import (
	"testing"

	"github.com/peerwire/peerwire/internal/conntest"
)

// hs is conn's handshake for the shared test helpers: hs.Run on two raw
// connections, hs.Pair over a fresh loopback TCP connection.
var hs = conntest.Handshaker[*SecureConfig, *EncryptedConn]{Client: Client, Server: Server}

// testSecureConfig returns the tests' handshake configuration for the
// identity of seed b.
func testSecureConfig(t testing.TB, b byte) *SecureConfig {
	return &SecureConfig{Identity: conntest.Identity(t, b), NetworkID: conntest.NetworkID, ChainID: conntest.ChainID, Meta: conntest.Meta()}
}
