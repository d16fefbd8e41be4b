package conn

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/conntest"

	"github.com/peerwire/peerwire/crypto"
)

func TestHandshakeRefusals(t *testing.T) {
	tests := []struct {
		name       string
		client     func(*SecureConfig)
		server     func(*SecureConfig)
		expectSelf bool // dialer expects the server's ID; otherwise expect a stranger
		expected   crypto.ID
		clientErr  error
		field      string // IncompatibleError.Field when clientErr is ErrIncompatible
	}{
		{name: "ok"},
		{name: "wrong network", server: func(c *SecureConfig) { c.NetworkID = "othernet" }, clientErr: ErrIncompatible, field: "network_id"},
		{name: "wrong chain", server: func(c *SecureConfig) { c.ChainID = "chain-2" }, clientErr: ErrIncompatible, field: "chain_id"},
		{name: "self", server: func(c *SecureConfig) { c.Identity = conntest.Identity(t, 1) }, clientErr: ErrSelfConnection},
		{name: "unexpected peer", expected: conntest.Identity(t, 9).ID(), clientErr: ErrUnexpectedPeer},
		{name: "expected peer", expected: conntest.Identity(t, 2).ID()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := testSecureConfig(t, 1), testSecureConfig(t, 2)
			if tc.client != nil {
				tc.client(cc)
			}
			if tc.server != nil {
				tc.server(sc)
			}
			rawC, rawS := conntest.TCPPair(t)
			c, s := hs.Run(context.Background(), rawC, rawS, cc, sc, tc.expected)
			if c.Conn != nil {
				defer c.Conn.Close()
			}
			if s.Conn != nil {
				defer s.Conn.Close()
			}
			if tc.clientErr == nil {
				if c.Err != nil || s.Err != nil {
					t.Fatalf("client %v, server %v", c.Err, s.Err)
				}
				return
			}
			if !errors.Is(c.Err, tc.clientErr) {
				t.Fatalf("client error %v, want %v", c.Err, tc.clientErr)
			}
			if s.Err == nil {
				// The acceptor may finish before it learns the dialer refused
				// it; the dialer's close then ends the connection at once.
				if _, err := s.Conn.Read(make([]byte, 1)); err == nil {
					t.Fatalf("server reads from a connection the client refused")
				}
			}
			if tc.field != "" {
				var ie *IncompatibleError
				if !errors.As(c.Err, &ie) || ie.Field != tc.field {
					t.Fatalf("error %v does not name field %q", c.Err, tc.field)
				}
			}
			if tc.clientErr == ErrUnexpectedPeer {
				var ue *UnexpectedPeerError
				if !errors.As(c.Err, &ue) || ue.Expected != tc.expected || ue.Got != sc.Identity.ID() {
					t.Fatalf("UnexpectedPeerError wrong: %v", c.Err)
				}
			}
		})
	}
}

// TestHandshakeTimeout: a peer that sends nothing fails the handshake at its
// deadline, with an error naming the stage.
func TestHandshakeTimeout(t *testing.T) {
	tests := []struct {
		name  string
		peer  func(net.Conn) // what the silent peer does before stalling
		stage string
	}{
		{"silent", func(net.Conn) {}, "hello"},
		{"hello only", func(c net.Conn) {
			var h [HelloSize]byte
			hl := hello{version: 1, networkTag: crypto.NetworkTag("testnet")}
			hl.ephemeral[0] = 9
			appendHello(h[:0], &hl)
			c.Write(h[:])
		}, "auth"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rawC, rawS := conntest.TCPPair(t)
			defer rawS.Close()
			tc.peer(rawS)
			cfg := testSecureConfig(t, 1)
			cfg.HandshakeTimeout = 100 * time.Millisecond
			start := time.Now()
			_, err := Client(context.Background(), rawC, cfg, crypto.ID{})
			elapsed := time.Since(start)
			var te *HandshakeTimeoutError
			if !errors.Is(err, ErrHandshakeTimeout) || !errors.As(err, &te) || te.Stage != tc.stage {
				t.Fatalf("got %v, want handshake timeout at %s", err, tc.stage)
			}
			if elapsed < 100*time.Millisecond || elapsed > 5*time.Second {
				t.Fatalf("timed out after %v, want about 100ms", elapsed)
			}
			if _, err := rawC.Write([]byte{1}); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("raw conn not closed after failed handshake: %v", err)
			}
		})
	}
}

func TestHandshakeContextCancel(t *testing.T) {
	rawC, rawS := conntest.TCPPair(t)
	defer rawS.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Client(ctx, rawC, testSecureConfig(t, 1), crypto.ID{})
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

// TestGarbageBeforeHello: bytes that are not a hello, or a hello followed by
// a huge frame length, end the handshake without a large allocation.
func TestGarbageBeforeHello(t *testing.T) {
	validHello := func() []byte {
		hl := hello{version: 1, networkTag: crypto.NetworkTag("testnet")}
		hl.ephemeral[0] = 9 // the X25519 base point: a valid key
		return appendHello(nil, &hl)
	}
	tests := []struct {
		name string
		send []byte
		want error
	}{
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + string(make([]byte, 40))), ErrNotPeerwire},
		{"huge length after hello", append(validHello(), 0xff, 0xff, 1, 2, 3), ErrProtocol},
		{"zero length after hello", append(validHello(), 0, 0), ErrProtocol},
		{"short then close", []byte("peer"), ErrNotPeerwire},
		{"old version", func() []byte { b := validHello(); b[8], b[9] = 0, 0; return b }(), ErrIncompatible},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rawC, rawS := conntest.TCPPair(t)
			go func() {
				rawS.Write(tc.send)
				rawS.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, rawS) // until the victim closes
				rawS.Close()
			}()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Server(context.Background(), rawC, testSecureConfig(t, 1))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			// A 64 KiB claim must not be honoured with a 64 KiB buffer.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 48<<10 {
				t.Fatalf("refusing %s allocated %d bytes", tc.name, grew)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	id := conntest.Identity(t, 1)
	tests := []struct {
		name  string
		cfg   *SecureConfig
		field string
	}{
		{"no identity", &SecureConfig{NetworkID: "n"}, "Identity"},
		{"no network", &SecureConfig{Identity: id}, "NetworkID"},
		{"long chain", &SecureConfig{Identity: id, NetworkID: "n", ChainID: string(make([]byte, 65))}, "ChainID"},
		{"negative timeout", &SecureConfig{Identity: id, NetworkID: "n", HandshakeTimeout: -1}, "HandshakeTimeout"},
		{"reject 1", &SecureConfig{Identity: id, NetworkID: "n", RejectAfterFrames: 1}, "RejectAfterFrames"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil || !contains(err.Error(), tc.field) {
				t.Fatalf("error %v does not name %s", err, tc.field)
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
