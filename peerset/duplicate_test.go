package peerset

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/peerwire/peerwire/crypto"
)

// simConn is one TCP connection between two simulated nodes, seen from
// both ends.
type simConn struct {
	name   string
	dialer crypto.ID
}

// survivor admits conns, in order, into a fresh Set of node self whose peer
// is remote, acting as the Node would on the results, and returns the name
// of the connection left in the Set. variant "must" makes remote a
// must-connect peer; "full" fills the slot of the second connection's
// direction with a third peer first.
func survivor(t *testing.T, self, remote crypto.ID, conns []simConn, variant string) string {
	t.Helper()
	cfg := Config{MaxInbound: 1, MaxOutbound: 1}
	if variant == "must" {
		cfg.MustConnect = []crypto.Address{{ID: remote, Host: "192.0.2.1", Port: 1}}
	}
	s, clk := newSetWith(t, cfg, Deps{Self: self})
	dir := func(c simConn) Direction {
		if c.dialer == self {
			return Outbound
		}
		return Inbound
	}
	if variant == "full" {
		mustAdmit(t, s, info(900, dir(conns[1])), clk.Now())
	}
	fakes := map[string]*fakeConn{}
	peers := map[string]*Peer{}
	for _, c := range conns {
		fc := &fakeConn{name: c.name}
		fakes[c.name] = fc
		p, replaced, err := s.Admit(PeerInfo{ID: remote, Direction: dir(c), Remote: addrOf(1), Conn: fc}, clk.Now())
		switch {
		case err != nil:
			if ReasonOf(err) != ReasonDuplicate {
				t.Fatalf("%s: Admit %s: %v, want duplicate", self.Short(), c.name, err)
			}
			_ = fc.Close(ReasonOf(err), err.Error())
		case replaced != nil:
			_ = replaced.Disconnect(ReasonDuplicate, "")
			if s.Remove(replaced) {
				t.Fatalf("%s: Remove of the replaced peer found it", self.Short())
			}
		}
		if p != nil {
			peers[c.name] = p
		}
		clk.Advance(1)
	}
	st, ok := s.Get(remote)
	if !ok {
		t.Fatalf("%s: no connection to %s left", self.Short(), remote.Short())
	}
	name := st.Peer.Conn.(*fakeConn).name
	// Every other connection was closed with "duplicate", the survivor not.
	for n, fc := range fakes {
		closes, reason := fc.closed()
		if n == name && closes != 0 || n != name && (closes != 1 || reason != ReasonDuplicate) {
			t.Fatalf("%s: conn %s closed %d times with %v (survivor %s)", self.Short(), n, closes, reason, name)
		}
	}
	if st.MustConnect != (variant == "must") {
		t.Fatalf("must-connect flag lost")
	}
	if s.Len() != 1+boolInt(variant == "full") {
		t.Fatalf("%s: %d peers", self.Short(), s.Len())
	}
	return name
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestDuplicateAgreement simulates two nodes dialing each other at the same
// moment: connection X is dialed by A, Y by B. Each node sees both, in
// either order, and both must keep the same one: the one dialed by the
// lower ID.
func TestDuplicateAgreement(t *testing.T) {
	// The IDs differ in their first two bytes in opposite directions, so
	// only a bytewise (big-endian) comparison orders them this way.
	low, high := pid(0x01ff), pid(0x0200)
	for _, aIsLower := range []bool{true, false} {
		a, b := low, high
		if !aIsLower {
			a, b = high, low
		}
		if (bytes.Compare(a[:], b[:]) < 0) != aIsLower {
			t.Fatal("test IDs misordered")
		}
		x := simConn{"X", a}
		y := simConn{"Y", b}
		want := "X"
		if !aIsLower {
			want = "Y"
		}
		for _, variant := range []string{"plain", "must", "full"} {
			for _, orderA := range [][]simConn{{x, y}, {y, x}} {
				for _, orderB := range [][]simConn{{x, y}, {y, x}} {
					name := fmt.Sprintf("A-lower=%v/%s/A-sees-%s%s/B-sees-%s%s", aIsLower, variant,
						orderA[0].name, orderA[1].name, orderB[0].name, orderB[1].name)
					t.Run(name, func(t *testing.T) {
						gotA := survivor(t, a, b, orderA, variant)
						gotB := survivor(t, b, a, orderB, variant)
						if gotA != gotB || gotA != want {
							t.Fatalf("A kept %s, B kept %s; want both %s (dialed by the lower ID)", gotA, gotB, want)
						}
					})
				}
			}
		}
	}
}

// TestDuplicateSameDialer: two connections dialed by the same side (the
// dialer restarted or lost the old one): the newer survives on both ends.
func TestDuplicateSameDialer(t *testing.T) {
	a, b := pid(1), pid(2)
	for _, dialer := range []crypto.ID{a, b} {
		old := simConn{"old", dialer}
		cur := simConn{"new", dialer}
		for _, self := range []crypto.ID{a, b} {
			remote := b
			if self == b {
				remote = a
			}
			if got := survivor(t, self, remote, []simConn{old, cur}, "plain"); got != "new" {
				t.Errorf("dialer %s, seen by %s: kept %s, want new", dialer.Short(), self.Short(), got)
			}
		}
	}
}

// TestDuplicateKeepsScore: the surviving connection inherits the score.
func TestDuplicateKeepsScore(t *testing.T) {
	s, clk := newSetWith(t, Config{}, Deps{Self: pid(1)})
	mustAdmit(t, s, info(2, Inbound), clk.Now())
	s.Report(pid(2), -30, "test")
	p, replaced, err := s.Admit(info(2, Outbound), clk.Now()) // dialed by us, the lower ID: wins
	if err != nil || replaced == nil {
		t.Fatalf("Admit = %v, %v", replaced, err)
	}
	if sc, _ := s.Score(p.ID); sc != -30 {
		t.Fatalf("score = %v", sc)
	}
	if c := s.Counts(); c.InboundSlots != 0 || c.OutboundSlots != 1 {
		t.Fatalf("counts %+v", c)
	}
}

func TestIncomingWinsTruthTable(t *testing.T) {
	lo, hi := pid(1), pid(2)
	tests := []struct {
		self, remote       crypto.ID
		existing, incoming Direction
		want               bool
	}{
		{lo, hi, Inbound, Outbound, true},  // incoming dialed by lo (us)
		{lo, hi, Outbound, Inbound, false}, // existing dialed by lo (us)
		{hi, lo, Inbound, Outbound, false}, // existing dialed by lo (them)
		{hi, lo, Outbound, Inbound, true},  // incoming dialed by lo (them)
		{lo, hi, Inbound, Inbound, true},   // same dialer: newer
		{hi, lo, Outbound, Outbound, true}, // same dialer: newer
	}
	for _, tt := range tests {
		if got := incomingWins(tt.self, tt.remote, tt.existing, tt.incoming); got != tt.want {
			t.Errorf("self %s remote %s existing %v incoming %v: %v, want %v",
				tt.self.Short(), tt.remote.Short(), tt.existing, tt.incoming, got, tt.want)
		}
	}
}
