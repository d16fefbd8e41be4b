package conn

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/conntest"
	"github.com/peerwire/peerwire/proto/pb"
)

// TestVersionNegotiation: over real TCP, two sides that speak overlapping
// ranges of protocol versions both use the highest they share and both
// report it; sides with no common version both refuse with an
// IncompatibleError that gives the two ranges.
func TestVersionNegotiation(t *testing.T) {
	tests := []struct {
		name           string
		client, server [2]uint16 // versions spoken, oldest and highest; 0: ours
		want           uint16    // negotiated; 0: refused
		clientRemote   string    // the client's IncompatibleError.Remote
		serverRemote   string
	}{
		{name: "both speak only 1", want: 1},
		{name: "client also speaks 2", client: [2]uint16{1, 2}, want: 1},
		{name: "server also speaks 2", server: [2]uint16{1, 2}, want: 1},
		{name: "highest common", client: [2]uint16{1, 3}, server: [2]uint16{2, 5}, want: 3},
		{name: "client too new", client: [2]uint16{2, 3}, clientRemote: "1", serverRemote: "2-3"},
		{name: "server too old", client: [2]uint16{4, 4}, server: [2]uint16{1, 3}, clientRemote: "1-3", serverRemote: "4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := testSecureConfig(t, 1), testSecureConfig(t, 2)
			cc.minVersion, cc.maxVersion = tc.client[0], tc.client[1]
			sc.minVersion, sc.maxVersion = tc.server[0], tc.server[1]
			rawC, rawS := conntest.TCPPair(t)
			c, s := hs.Run(context.Background(), rawC, rawS, cc, sc, crypto.ID{})
			for _, r := range []conntest.Result[*EncryptedConn]{c, s} {
				if r.Conn != nil {
					defer r.Conn.Close()
				}
			}
			if tc.want != 0 {
				if c.Err != nil || s.Err != nil {
					t.Fatalf("client %v, server %v", c.Err, s.Err)
				}
				if c.Conn.Version() != tc.want || s.Conn.Version() != tc.want {
					t.Fatalf("negotiated %d (client) and %d (server), want %d", c.Conn.Version(), s.Conn.Version(), tc.want)
				}
				return
			}
			for _, side := range []struct {
				name   string
				err    error
				remote string
			}{{"client", c.Err, tc.clientRemote}, {"server", s.Err, tc.serverRemote}} {
				var ie *IncompatibleError
				if !errors.As(side.err, &ie) || !errors.Is(side.err, ErrIncompatible) {
					t.Fatalf("%s: error %v, want an IncompatibleError", side.name, side.err)
				}
				if ie.Field != "protocol_version" || ie.Remote != side.remote || !strings.Contains(ie.Error(), "no common protocol version: the peer speaks "+side.remote) {
					t.Fatalf("%s: %+v (%v), want protocol_version with the peer speaking %s", side.name, ie, ie, side.remote)
				}
			}
		})
	}
}

// TestHelloVersions: the hello carries both ends of the range spoken, and
// a hello whose oldest version is 0 (sent by implementations older than
// negotiation, where the field was reserved) speaks only its version.
func TestHelloVersions(t *testing.T) {
	tests := []struct {
		name     string
		h        hello
		peer     [2]uint16 // what parseHello's caller makes of it
		vsOurs11 uint16    // negotiated against a side speaking 1 only; 0: none
	}{
		{"legacy v1", hello{version: 1}, [2]uint16{1, 1}, 1},
		{"v1 explicit", hello{version: 1, minVersion: 1}, [2]uint16{1, 1}, 1},
		{"v2 offering v1", hello{version: 2, minVersion: 1}, [2]uint16{1, 2}, 1},
		{"legacy v2", hello{version: 2}, [2]uint16{2, 2}, 0},
		{"version 0", hello{version: 0}, [2]uint16{0, 0}, 0},
		{"empty range", hello{version: 1, minVersion: 3}, [2]uint16{3, 1}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := appendHello(nil, &tc.h)
			h, err := parseHello(b)
			if err != nil {
				t.Fatal(err)
			}
			if lo, hi := h.speaks(); [2]uint16{lo, hi} != tc.peer {
				t.Fatalf("speaks %d-%d, want %v", lo, hi, tc.peer)
			}
			lo, hi := h.speaks()
			v, ok := negotiateVersion(1, 1, lo, hi)
			if v != tc.vsOurs11 || ok != (tc.vsOurs11 != 0) {
				t.Fatalf("negotiated %d, %v; want %d", v, ok, tc.vsOurs11)
			}
		})
	}
}

// TestMetaVersionMatchesHello: a peer whose signed PeerMeta claims another
// highest version than its hello is refused as broken.
func TestMetaVersionMatchesHello(t *testing.T) {
	cc, sc := testSecureConfig(t, 1), testSecureConfig(t, 2)
	r, err := sc.resolve()
	if err != nil {
		t.Fatal(err)
	}
	meta := proto.Clone(r.localMeta).(*pb.PeerMeta)
	meta.ProtocolVersion = 7
	opts := proto.MarshalOptions{Deterministic: true}
	if r.metaBytes, err = opts.Marshal(meta); err != nil {
		t.Fatal(err)
	}
	rawC, rawS := conntest.TCPPair(t)
	c, s := hs.Run(context.Background(), rawC, rawS, cc, sc, crypto.ID{})
	for _, r := range []conntest.Result[*EncryptedConn]{c, s} {
		if r.Conn != nil {
			r.Conn.Close()
		}
	}
	if !errors.Is(c.Err, ErrProtocol) || !strings.Contains(c.Err.Error(), "protocol_version 7 differs from the hello's 1") {
		t.Fatalf("client error %v, want the version mismatch", c.Err)
	}
}
