package conn_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// negSide is one end of a negotiation test: the versions it speaks
// (0, 0: this implementation's) and its application features.
type negSide struct {
	versions [2]uint16
	features []mux.Feature
}

// negResult is what one end got: its MultiConn, or the error of the
// handshake or of mux.New.
type negResult struct {
	mc  *mux.MultiConn
	err error
}

// negConnect runs handshake and mux.New for both sides over loopback TCP,
// at once, and returns what each got. Connections that were made are
// aborted and waited for when the test ends.
func negConnect(t *testing.T, client, server negSide) (c, s negResult) {
	t.Helper()
	topics := []mux.TopicConfig{{ID: 1, MaxMessageSize: 1 << 10}}
	side := func(b byte, n negSide) (*conn.SecureConfig, *mux.Config) {
		seed := sha256.Sum256([]byte{b})
		id, err := crypto.IdentityFromSeed(seed[:])
		if err != nil {
			t.Fatal(err)
		}
		sc := &conn.SecureConfig{Identity: id, NetworkID: "testnet", ChainID: "chain-1",
			Meta: &pb.PeerMeta{Role: pb.NodeRole_NODE_ROLE_FULL, Topics: mux.TopicIDs(topics)}}
		if n.versions != [2]uint16{} {
			conn.SetVersions(sc, n.versions[0], n.versions[1])
		}
		return sc, &mux.Config{Topics: topics, Features: n.features, OnMessage: func(m *mux.Message) { m.Done() }}
	}
	csc, cmc := side(1, client)
	ssc, smc := side(2, server)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch := make(chan negResult, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			ch <- negResult{nil, err}
			return
		}
		ec, err := conn.Server(ctx, raw, ssc)
		if err != nil {
			ch <- negResult{nil, err}
			return
		}
		mc, err := mux.New(ctx, ec, smc)
		ch <- negResult{mc, err}
	}()
	c = func() negResult {
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return negResult{nil, err}
		}
		ec, err := conn.Client(ctx, raw, csc, crypto.ID{})
		if err != nil {
			return negResult{nil, err}
		}
		mc, err := mux.New(ctx, ec, cmc)
		return negResult{mc, err}
	}()
	s = <-ch
	for _, r := range []negResult{c, s} {
		if r.mc != nil {
			mc := r.mc
			mc.Start()
			t.Cleanup(func() {
				mc.Abort(mux.GoAwayShutdown, "test over")
				select {
				case <-mc.Done():
				case <-time.After(10 * time.Second):
					t.Errorf("connection did not end")
				}
			})
		}
	}
	return c, s
}

// TestNegotiation: over real TCP, through the handshake and the SETTINGS
// exchange, peers that speak more versions and features than we do
// connect at the highest common version with the features both speak; a
// peer that requires a feature the other does not speak, or that shares
// no version, is refused on both sides with an IncompatibleError naming
// the feature or the versions.
func TestNegotiation(t *testing.T) {
	const unknown, shared, extra = 0x8123, 0x8001, 0x8002
	tests := []struct {
		name           string
		client, server negSide
		version        uint16   // negotiated; 0: refused
		features       []uint16 // in use on both sides
		field          string   // refused: IncompatibleError.Field
		feature        uint16   // refused on a feature: which
		clientLocal    string   // refused on a feature: the client's IncompatibleError.Local
	}{
		{name: "plain", version: 1, features: []uint16{}},
		{
			name:    "v2 peer with an unknown optional feature",
			client:  negSide{versions: [2]uint16{1, 2}, features: []mux.Feature{{ID: unknown, Value: []byte("v2 thing")}}},
			version: 1, features: []uint16{},
		},
		{
			name:    "shared feature, each side one more",
			client:  negSide{features: []mux.Feature{{ID: shared, Value: []byte{1}}, {ID: extra}}},
			server:  negSide{versions: [2]uint16{1, 3}, features: []mux.Feature{{ID: shared, Value: []byte{2}}, {ID: unknown}}},
			version: 1, features: []uint16{shared},
		},
		{
			name:   "peer requires an unknown feature",
			client: negSide{versions: [2]uint16{1, 2}, features: []mux.Feature{{ID: unknown, Required: true}}},
			field:  "feature", feature: unknown, clientLocal: "required",
		},
		{
			name:   "we require a feature the peer lacks",
			client: negSide{features: []mux.Feature{{ID: shared}}},
			server: negSide{features: []mux.Feature{{ID: extra, Required: true}}},
			field:  "feature", feature: extra, clientLocal: "not spoken",
		},
		{
			name:   "both require, lowest named",
			client: negSide{features: []mux.Feature{{ID: extra, Required: true}}},
			server: negSide{features: []mux.Feature{{ID: shared, Required: true}}},
			field:  "feature", feature: shared, clientLocal: "not spoken",
		},
		{
			name:   "no common version",
			client: negSide{versions: [2]uint16{2, 3}},
			field:  "protocol_version",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, s := negConnect(t, tc.client, tc.server)
			if tc.version != 0 {
				if c.err != nil || s.err != nil {
					t.Fatalf("client %v, server %v", c.err, s.err)
				}
				for _, mc := range []*mux.MultiConn{c.mc, s.mc} {
					st := mc.Stats()
					if mc.Version() != tc.version || st.Version != tc.version {
						t.Errorf("version %d (stats %d), want %d", mc.Version(), st.Version, tc.version)
					}
					if ec := mc.Transport().(*conn.EncryptedConn); ec.Version() != tc.version {
						t.Errorf("transport version %d, want %d", ec.Version(), tc.version)
					}
					if !slices.Equal(st.Features, tc.features) {
						t.Errorf("features in use %v, want %v", st.Features, tc.features)
					}
				}
				for _, f := range tc.features {
					// Each side reads the value the other advertised.
					cv, cok := c.mc.PeerFeature(f)
					sv, sok := s.mc.PeerFeature(f)
					if !cok || !sok || string(cv) != string(featureValue(tc.server.features, f)) || string(sv) != string(featureValue(tc.client.features, f)) {
						t.Errorf("feature 0x%04x: client sees %x %v, server sees %x %v", f, cv, cok, sv, sok)
					}
				}
				if _, ok := c.mc.PeerFeature(unknown); ok {
					t.Errorf("feature 0x%04x in use though only one side speaks it", unknown)
				}
				return
			}
			for _, side := range []struct {
				name  string
				err   error
				local string
			}{{"client", c.err, tc.clientLocal}, {"server", s.err, opposite(tc.clientLocal)}} {
				var ie *conn.IncompatibleError
				if !errors.As(side.err, &ie) || !errors.Is(side.err, conn.ErrIncompatible) {
					t.Fatalf("%s: error %v, want an IncompatibleError", side.name, side.err)
				}
				if ie.Field != tc.field || ie.Feature != tc.feature || (tc.field == "feature" && ie.Local != side.local) {
					t.Fatalf("%s: %+v (%v), want field %s feature 0x%04x local %q", side.name, ie, ie, tc.field, tc.feature, side.local)
				}
			}
		})
	}
}

func featureValue(fs []mux.Feature, id uint16) []byte {
	for _, f := range fs {
		if f.ID == id {
			return f.Value
		}
	}
	return nil
}

func opposite(local string) string {
	switch local {
	case "required":
		return "not spoken"
	case "not spoken":
		return "required"
	}
	return ""
}
