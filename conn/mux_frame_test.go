package conn_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
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
		seed := sha256.Sum256([]byte{b})
		id, err := crypto.IdentityFromSeed(seed[:])
		if err != nil {
			t.Fatal(err)
		}
		return &conn.SecureConfig{Identity: id, NetworkID: "testnet", ChainID: "chain-1",
			Meta: &pb.PeerMeta{Role: pb.NodeRole_NODE_ROLE_FULL, SoftwareVersion: "test", Topics: mux.TopicIDs(topics)}}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type res struct {
		mc  *mux.MultiConn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			ch <- res{nil, err}
			return
		}
		ec, err := conn.Server(ctx, raw, secure(2))
		if err != nil {
			raw.Close()
			ch <- res{nil, err}
			return
		}
		mc, err := mux.New(ctx, ec, cfg)
		if err == nil {
			mc.Start()
		}
		ch <- res{mc, err}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	e, err := conn.Client(ctx, raw, secure(1), crypto.ID{})
	if err != nil {
		raw.Close()
		t.Fatal(err)
	}
	peer, err := mux.New(ctx, e, peerCfg)
	if err != nil {
		t.Fatal(err)
	}
	peer.Start()
	defer func() { peer.Abort(mux.GoAwayShutdown, ""); <-peer.Done() }()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	s := r.mc
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
