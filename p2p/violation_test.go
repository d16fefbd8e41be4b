package p2p

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/proto/pb"
)

// TestProtocolViolationsBan: a peer that breaks the MultiConn protocol (a
// data packet on a topic the node never declared, written under the
// MultiConn's feet) is cut off each time, and its third violation bans it:
// the ban is listed and announced, and its next connection is refused.
func TestProtocolViolationsBan(t *testing.T) {
	hub := startNode(t, quietConfig(t, 700))
	sub := hub.Subscribe()
	defer sub.Cancel()
	bad := testIdentity(t, 701)
	// topic 200, FIRST, length 1, total 1, one byte of payload.
	packet := []byte{200, 0x01, 0, 1, 0, 0, 0, 1, 'x'}
	for i := 1; i <= 3; i++ {
		p, err := dialRaw(t, hub, bad, "")
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, "raw peer admitted", func() bool { return connectedTo(hub, bad.ID()) })
		if _, err := p.ec.Write(packet); err != nil {
			t.Fatal(err)
		}
		// The third violation also bans; the violation's own goaway goes
		// first, but accept the ban's should it win.
		ge := goAwayOf(t, p.mc)
		if ge.Code != mux.GoAwayProtocolViolation && (i < 3 || ge.Code != mux.GoAwayBanned) {
			t.Fatalf("violation %d: goaway %v", i, ge)
		}
		testutil.Eventually(t, 5*time.Second, "hub drops the peer", func() bool { return !connectedTo(hub, bad.ID()) })
	}
	e := waitEvent(t, sub, 5*time.Second, "ban event", func(e Event) bool { return e.Kind == EventBanned })
	if e.Peer != bad.ID() {
		t.Fatalf("banned %s, want %s", e.Peer.Short(), bad.ID().Short())
	}
	if bans := hub.Bans(); len(bans) != 1 || bans[0].ID != bad.ID() {
		t.Fatalf("bans %+v", bans)
	}
	if s := hub.Stats(); s.Violations != 3 {
		t.Fatalf("violations %d, want 3", s.Violations)
	}
	p, err := dialRaw(t, hub, bad, "")
	if err != nil {
		t.Fatal(err)
	}
	if ge := goAwayOf(t, p.mc); ge.Code != mux.GoAwayBanned {
		t.Fatalf("banned peer's new connection: goaway %v", ge)
	}
}

// TestMalformedMessagesBan: a peer that keeps sending application
// messages of an unknown kind loses reputation with each and is
// disconnected with goaway "banned" when its score reaches the threshold.
func TestMalformedMessagesBan(t *testing.T) {
	hub := startNode(t, quietConfig(t, 710))
	p, err := dialRaw(t, hub, testIdentity(t, 711), "")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "raw peer admitted", func() bool { return connectedTo(hub, p.id.ID()) })
	ctx := context.Background()
	for i := 0; i < 10; i++ { // -10 each; the default threshold is -100
		if err := p.mc.Send(ctx, topicTxs, []byte{0x07, byte(i)}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	ge := goAwayOf(t, p.mc)
	if ge.Code != mux.GoAwayBanned {
		t.Fatalf("goaway %v, want banned", ge)
	}
	if s := hub.Stats(); s.Malformed != 10 || s.Bans != 1 {
		t.Fatalf("malformed %d, bans %d", s.Malformed, s.Bans)
	}
	if !strings.Contains(ge.Text, "banned") {
		t.Fatalf("goaway text %q", ge.Text)
	}
}

// TestSelfDial: a node refuses to dial itself, whether the address names
// its ID or only its host and port (then the handshake finds out).
func TestSelfDial(t *testing.T) {
	n := startNode(t, quietConfig(t, 720))
	ctx := context.Background()
	if _, err := n.Dial(ctx, n.ListenAddr().String()); !errors.Is(err, conn.ErrSelfConnection) {
		t.Fatalf("dial own ID@address: %v", err)
	}
	if _, err := n.Dial(ctx, n.ListenAddr().HostPort()); !errors.Is(err, conn.ErrSelfConnection) {
		t.Fatalf("dial own host:port: %v", err)
	}
	if len(n.Peers()) != 0 {
		t.Fatalf("self among peers: %v", n.Peers())
	}
	if _, ok := n.book.Get(n.ID()); ok {
		t.Fatal("own address pinned in the book")
	}
}

// TestSetupViolationCostsReputation: a peer whose first packet after the
// handshake is not a valid SETTINGS gets a goaway naming the violation
// (docs/PROTOCOL.md §8.5) and pays for it like any other violation.
func TestSetupViolationCostsReputation(t *testing.T) {
	hub := startNode(t, quietConfig(t, 720))
	bad := testIdentity(t, 721)
	raw, err := net.Dial("tcp", hub.ListenAddr().HostPort())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	secure := &conn.SecureConfig{Identity: bad, NetworkID: hub.s.NetworkID, ChainID: hub.s.ChainID,
		Meta: &pb.PeerMeta{Topics: mux.TopicIDs(hub.s.connTopics)}}
	ec, err := conn.Client(ctx, raw, secure, hub.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	// A PING where SETTINGS must come first.
	if _, err := ec.Write([]byte{0, 2, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}); err != nil {
		t.Fatal(err)
	}
	ec.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(ec)
	var code byte
	var text string
	for len(b) >= 4 && b[0] == 0 { // control packets only: SETTINGS, then GOAWAY
		n := int(binary.BigEndian.Uint16(b[2:4]))
		if len(b) < 4+n {
			break
		}
		if b[1] == 5 && n >= 1 {
			code, text = b[4], string(b[5:4+n])
		}
		b = b[4+n:]
	}
	if mux.GoAwayCode(code) != mux.GoAwayProtocolViolation || !strings.HasPrefix(text, "malformed control message") {
		t.Fatalf("goaway %d %q, want protocol violation naming it", code, text)
	}
	testutil.Eventually(t, 5*time.Second, "the violation counted", func() bool { return hub.Stats().Violations == 1 })
	if s, ok := hub.Score(bad.ID()); !ok || s >= 0 {
		t.Fatalf("score %v (known %v) after a setup violation, want negative", s, ok)
	}
}
