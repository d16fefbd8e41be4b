package dht

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/peerwire/peerwire/crypto"
)

// TestSetServer checks the run-time switch: a client is in nobody's table
// and answers nothing; once switched to server its record advertises its
// addresses and claims the role, it answers FIND_NODE, and the nodes it
// queries add it to their tables; switched back, it answers nothing again.
func TestSetServer(t *testing.T) {
	mn := &memNet{}
	servers := buildNetwork(t, mn, 40, 6, "net")
	c := mn.add(t, "net", testKey(t, 41, 0), memAddr(100), func(cfg *Config) {
		cfg.Mode = ModeClient
		cfg.Bootstrap = []crypto.Address{servers[0].address()}
	})
	t.Cleanup(c.dht.Stop)
	ctx := context.Background()
	findNode := func() error {
		req, _ := (&Message{Type: MsgFindNode, Target: c.key.ID()}).Encode()
		_, err := c.dht.Handle(ctx, servers[1].key.ID(), req)
		return err
	}
	inTables := func() int {
		k := 0
		for _, s := range servers {
			if s.dht.Table().Known(c.key.ID()) {
				k++
			}
		}
		return k
	}
	c.dht.Bootstrap(ctx)
	settle(t, append(servers, c))
	if c.dht.Table().Len() == 0 {
		t.Fatal("the client's table is empty after its bootstrap")
	}
	if k := inTables(); k != 0 || findNode() == nil || c.dht.Server() || c.dht.Stats().Mode != ModeClient {
		t.Fatalf("client: in %d tables, FIND_NODE answered %v, Server() %v", k, findNode() == nil, c.dht.Server())
	}
	seq := c.dht.Self().Seq
	if err := c.dht.SetServer(true); err != nil {
		t.Fatal(err)
	}
	self := c.dht.Self()
	if !c.dht.Server() || !self.Server() || !slices.Equal(self.Addrs, []netip.AddrPort{c.addr}) || self.Seq <= seq {
		t.Fatalf("after SetServer(true): Server() %v, record %+v (seq before %d)", c.dht.Server(), self, seq)
	}
	if err := findNode(); err != nil {
		t.Fatalf("a server refused FIND_NODE: %v", err)
	}
	c.dht.Refresh(ctx) // its queries now carry its record
	settle(t, append(servers, c))
	if k := inTables(); k == 0 {
		t.Fatal("after switching to server, no node it queried added it")
	}
	if err := c.dht.SetServer(false); err != nil {
		t.Fatal(err)
	}
	if c.dht.Server() || c.dht.Self().Server() || len(c.dht.Self().Addrs) != 0 || findNode() == nil {
		t.Fatalf("after SetServer(false): Server() %v, record %+v, FIND_NODE answered %v", c.dht.Server(), c.dht.Self(), findNode() == nil)
	}
	// Switching to the mode in force changes nothing.
	seq = c.dht.Self().Seq
	if err := c.dht.SetServer(false); err != nil || c.dht.Self().Seq != seq {
		t.Fatalf("SetServer(false) again: %v, seq %d -> %d", err, seq, c.dht.Self().Seq)
	}
}

// TestSetServerConcurrent switches the mode and the addresses from
// several goroutines while the node serves (for -race): every record it
// ends with is consistent with the mode, and the sequence only grows.
func TestSetServerConcurrent(t *testing.T) {
	mn := &memNet{}
	servers := buildNetwork(t, mn, 42, 3, "net")
	n := servers[0]
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := uint64(0)
			for j := range 50 {
				var err error
				if i%2 == 0 {
					err = n.dht.SetServer(j%2 == 0)
				} else {
					err = n.dht.SetAddrs([]netip.AddrPort{memAddr(j % 3)})
				}
				if err != nil {
					t.Error(err)
					return
				}
				r := n.dht.Self()
				if r.Seq < last {
					t.Errorf("sequence went back from %d to %d", last, r.Seq)
				}
				last = r.Seq
				servers[1].dht.Lookup(context.Background(), n.key.ID())
			}
		}()
	}
	wg.Wait()
	settle(t, servers)
	r := n.dht.Self()
	if r.Server() != n.dht.Server() || (len(r.Addrs) == 0) == n.dht.Server() {
		t.Fatalf("record %+v inconsistent with Server() %v", r, n.dht.Server())
	}
}
