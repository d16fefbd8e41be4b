package conn_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/conntest"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/proto/pb"
)

// TestFrameViolation: a frame-layer violation under a MultiConn (here a
// close-notify with a body, docs/PROTOCOL.md §4.2) ends the connection as
// a protocol violation reported through OnViolation, not as a clean close.
// It lives in conn's external tests because only conn can forge the frame
// and only mux (which imports conn) has the MultiConn.
func TestFrameViolation(t *testing.T) {
	topics := []mux.TopicConfig{{ID: 1, MaxMessageSize: 1 << 10}}
	var calls atomic.Int32
	cfg := &mux.Config{Topics: topics, OnMessage: func(m *mux.Message) { m.Done() }}
	cfg.OnViolation = func(c *mux.MultiConn, v *mux.ViolationError) { calls.Add(1) }
	peerCfg := &mux.Config{Topics: topics, OnMessage: func(m *mux.Message) { m.Done() }}
	secure := func(b byte) *conn.SecureConfig {
		return &conn.SecureConfig{Identity: conntest.Identity(t, b), NetworkID: conntest.NetworkID, ChainID: conntest.ChainID,
			Meta: &pb.PeerMeta{Role: pb.NodeRole_NODE_ROLE_FULL, SoftwareVersion: "test", Topics: mux.TopicIDs(topics)}}
	}
	hs := conntest.Handshaker[*conn.SecureConfig, *conn.EncryptedConn]{Client: conn.Client, Server: conn.Server}
	e, es := hs.Pair(t, secure(1), secure(2))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rp, rs := conntest.Both(
		func() (*mux.MultiConn, error) { return mux.New(ctx, e, peerCfg) },
		func() (*mux.MultiConn, error) { return mux.New(ctx, es, cfg) })
	if rp.Err != nil || rs.Err != nil {
		t.Fatalf("New: %v / %v", rp.Err, rs.Err)
	}
	peer, s := rp.Conn, rs.Conn
	s.Start()
	peer.Start()
	defer func() { peer.Abort(mux.GoAwayShutdown, ""); <-peer.Done() }()
	defer func() { s.Abort(mux.GoAwayShutdown, ""); <-s.Done() }()
	if err := conn.SendCloseNotifyBody(e, []byte{0}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the MultiConn did not end")
	}
	var v *mux.ViolationError
	if !errors.As(s.Err(), &v) || v.Kind != mux.ViolationMalformedFrame || calls.Load() != 1 {
		t.Fatalf("Err %v (OnViolation called %d times), want a %v violation", s.Err(), calls.Load(), mux.ViolationMalformedFrame)
	}
	t.Log(s.Err())
}
