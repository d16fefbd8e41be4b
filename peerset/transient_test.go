package peerset

import "testing"

// TestAdmitTransientCap: at most MaxTransient transient connections per
// direction, outside the slot limits; a release frees one.
func TestAdmitTransientCap(t *testing.T) {
	s, c := newSet(t, Config{MaxInbound: 1, MaxOutbound: 1})
	now := c.Now()
	mustAdmit(t, s, info(1, Inbound), now)
	mustAdmit(t, s, info(2, Outbound), now)
	for _, dir := range []Direction{Inbound, Outbound} {
		var releases []func()
		for i := range MaxTransient {
			r, err := s.AdmitTransient(info(100+i, dir), now)
			if err != nil {
				t.Fatalf("%v transient %d with the slots full: %v", dir, i, err)
			}
			releases = append(releases, r)
		}
		_, err := s.AdmitTransient(info(200, dir), now)
		if ReasonOf(err) != ReasonTooManyPeers {
			t.Fatalf("%v transient %d: err %v, want ReasonTooManyPeers", dir, MaxTransient+1, err)
		}
		releases[0]()
		releases[0]() // idempotent: frees one slot, not two
		if _, err := s.AdmitTransient(info(201, dir), now); err != nil {
			t.Fatalf("%v transient after a release: %v", dir, err)
		}
		if _, err := s.AdmitTransient(info(202, dir), now); ReasonOf(err) != ReasonTooManyPeers {
			t.Fatalf("%v: a double release freed two slots (err %v)", dir, err)
		}
	}
	if got := s.Counts(); got.InboundSlots != 1 || got.OutboundSlots != 1 || s.Len() != 2 {
		t.Fatalf("counts %+v, len %d: transient connections were counted as peers", got, s.Len())
	}
}

// TestAdmitTransientNeverReplaces: a transient admission of a connected
// peer's ID leaves the real connection alone, is not listed, and a real
// connection is still admitted beside a transient one.
func TestAdmitTransientNeverReplaces(t *testing.T) {
	s, c := newSet(t, Config{})
	now := c.Now()
	real := mustAdmit(t, s, info(1, Outbound), now)
	conn := real.Conn.(*fakeConn)
	// Inbound would win the duplicate rule against our outbound (selfID is
	// the highest): a transient one must not.
	if _, err := s.AdmitTransient(info(1, Inbound), now); err != nil {
		t.Fatalf("AdmitTransient: %v", err)
	}
	if st, ok := s.Get(pid(1)); !ok || st.Peer != real {
		t.Fatalf("Get after a transient admission: %v %v, want the real peer", st.Peer, ok)
	}
	if n, _ := conn.closed(); n != 0 {
		t.Fatalf("real connection closed %d times by a transient admission", n)
	}
	if len(s.Peers()) != 1 {
		t.Fatalf("Peers lists %d, want 1", len(s.Peers()))
	}
	if _, err := s.AdmitTransient(info(2, Inbound), now); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get(pid(2)); ok {
		t.Fatal("a transient connection is in the set")
	}
	mustAdmit(t, s, info(2, Outbound), now)
}

// TestAdmitTransientChecks: bans, the per-IP caps and self are enforced.
func TestAdmitTransientChecks(t *testing.T) {
	ctr := newCounter(1, 0)
	s, c := newSetWith(t, Config{}, Deps{Counter: ctr})
	now := c.Now()
	if _, err := s.AdmitTransient(PeerInfo{ID: selfID, Direction: Inbound, Remote: addrOf(1)}, now); ReasonOf(err) != ReasonSelf {
		t.Fatalf("self: %v", err)
	}
	if err := bansOf(s).Ban(pid(3), DefaultBanDuration, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AdmitTransient(info(3, Inbound), now); ReasonOf(err) != ReasonBanned {
		t.Fatalf("banned: %v", err)
	}
	r, err := s.AdmitTransient(info(4, Inbound), now)
	if err != nil {
		t.Fatal(err)
	}
	same := info(5, Inbound)
	same.Remote = addrOf(4)
	if _, err := s.AdmitTransient(same, now); ReasonOf(err) != ReasonAddressCap {
		t.Fatalf("second from one IP under a cap of 1: %v", err)
	}
	r()
	if ctr.total() != 0 {
		t.Fatalf("counter holds %d after release", ctr.total())
	}
	s.Close()
	if _, err := s.AdmitTransient(info(6, Inbound), now); ReasonOf(err) != ReasonShutdown {
		t.Fatalf("closed: %v", err)
	}
}
