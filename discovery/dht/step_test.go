package dht

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
)

// stepNet is a memNet driven as a simulator drives DHTs: no Start, every
// request a Call on one FIFO queue (lookups' through the stepping API,
// candidate pings through Config.Carry), carried synchronously by one loop.
type stepNet struct {
	mn    *memNet
	nodes []*memNode
	queue []stepCall
	trace []string // every call carried: from, to, request bytes
}

type stepCall struct {
	from *memNode
	c    *Call
}

func newStepNet(t *testing.T, n int, seed uint64) *stepNet {
	t.Helper()
	sn := &stepNet{mn: &memNet{}}
	for i := range n {
		var nd *memNode
		nd = sn.mn.add(t, "net", testKey(t, 9, i), memAddr(i), func(c *Config) {
			c.Clock = clock.NewFake()
			c.Rand = rand.New(rand.NewPCG(seed, uint64(i)))
			c.Carry = func(c *Call) { sn.queue = append(sn.queue, stepCall{nd, c}) }
			if i > 0 {
				c.Bootstrap = []crypto.Address{{ID: testKey(t, 9, 0).ID(), Host: memAddr(0).Addr().String(), Port: memAddr(0).Port()}}
			}
		})
		sn.nodes = append(sn.nodes, nd)
	}
	return sn
}

// drain carries queued calls until none is left.
func (sn *stepNet) drain() {
	for len(sn.queue) > 0 {
		sc := sn.queue[0]
		sn.queue = sn.queue[1:]
		sn.carry(sc)
	}
}

func (sn *stepNet) carry(sc stepCall) {
	sn.trace = append(sn.trace, fmt.Sprintf("%s>%s %x", sc.from.key.ID().Short(), sc.c.To.ID.Short(), sc.c.Req))
	resp, err := sc.from.Request(context.Background(), sc.c.To, sc.c.Req)
	sc.c.Answer(resp, err)
}

// lookup runs one stepped lookup to its end, the calls of each round
// carried in order, with the candidate pings they cause.
func (sn *stepNet) lookup(nd *memNode, target crypto.ID) []*Record {
	l := nd.dht.StartLookup(target)
	for {
		calls := l.Next()
		if l.Done() {
			break
		}
		for _, c := range calls {
			sn.queue = append(sn.queue, stepCall{nd, c})
		}
		// One answer at a time, as Lookup takes them.
		sc := sn.queue[0]
		sn.queue = sn.queue[1:]
		sn.carry(sc)
	}
	sn.drain()
	found, _ := l.Finish()
	return found
}

// run bootstraps every node by a stepped lookup of itself, refreshes
// every bucket with RandomID targets, and revalidates a few times.
func (sn *stepNet) run() {
	for _, nd := range sn.nodes[1:] {
		sn.lookup(nd, nd.key.ID())
	}
	for _, nd := range sn.nodes {
		for i := range nd.dht.Table().Stats().Depth + 1 {
			sn.lookup(nd, nd.dht.RandomID(i))
		}
	}
	for range 5 {
		for _, nd := range sn.nodes {
			for _, c := range nd.dht.RevalidateCalls() {
				sn.queue = append(sn.queue, stepCall{nd, c})
			}
		}
		sn.drain()
	}
}

// TestSteppedDeterministic drives a 24-node network through the stepping
// API twice with the same seeds for Config.Rand and once with others: the
// first two carry the very same calls, in the same order, to the same
// tables; the third does not (its refresh targets differ), so the
// randomness comes from Config.Rand, nowhere else.
func TestSteppedDeterministic(t *testing.T) {
	run := func(seed uint64) *stepNet {
		sn := newStepNet(t, 24, seed)
		sn.run()
		return sn
	}
	a, b, c := run(1), run(1), run(2)
	if len(a.trace) < 200 {
		t.Fatalf("only %d calls carried", len(a.trace))
	}
	if len(a.trace) != len(b.trace) {
		t.Fatalf("same seeds: %d and %d calls", len(a.trace), len(b.trace))
	}
	for i := range a.trace {
		if a.trace[i] != b.trace[i] {
			t.Fatalf("same seeds: call %d differs:\n%s\n%s", i, a.trace[i], b.trace[i])
		}
	}
	for i, nd := range a.nodes {
		ea, eb := nd.dht.Table().Entries(), b.nodes[i].dht.Table().Entries()
		if len(ea) != len(eb) {
			t.Fatalf("node %d: tables of %d and %d entries", i, len(ea), len(eb))
		}
	}
	same := len(a.trace) == len(c.trace)
	for i := 0; same && i < len(a.trace); i++ {
		same = a.trace[i] == c.trace[i]
	}
	if same {
		t.Fatal("other seeds carried the same calls: Config.Rand is not used")
	}
	// The stepped lookups work: every node's table holds entries, and a
	// lookup finds the true closest nodes.
	for i, nd := range a.nodes {
		if nd.dht.Table().Len() == 0 {
			t.Fatalf("node %d has an empty table", i)
		}
	}
	target := a.nodes[3].dht.RandomID(0)
	found := a.lookup(a.nodes[3], target)
	want := trueClosest(idsOf(a.nodes), a.nodes[3].key.ID(), target, BucketSize)
	if len(found) != len(want) {
		t.Fatalf("lookup found %d nodes, want %d", len(found), len(want))
	}
	for i, r := range found {
		if r.ID != want[i] {
			t.Fatalf("lookup result %d is %s, want %s", i, r.ID.Short(), want[i].Short())
		}
	}
}

// TestRandomIDFromConfigRand checks that RandomID draws from Config.Rand:
// two DHTs (of different keys) with equally seeded Rands draw the same
// sequence of bucket offsets, each ID in the bucket asked for.
func TestRandomIDFromConfigRand(t *testing.T) {
	mn := &memNet{}
	seeded := func(c *Config) { c.Rand = rand.New(rand.NewPCG(5, 5)) }
	a := mn.add(t, "net", testKey(t, 10, 0), memAddr(0), seeded)
	b := mn.add(t, "net", testKey(t, 10, 1), memAddr(1), seeded)
	for i := range IDBits {
		ia, ib := a.dht.RandomID(i), b.dht.RandomID(i)
		if CommonPrefixLen(a.key.ID(), ia) != i || CommonPrefixLen(b.key.ID(), ib) != i {
			t.Fatalf("bucket %d: IDs in buckets %d and %d", i, CommonPrefixLen(a.key.ID(), ia), CommonPrefixLen(b.key.ID(), ib))
		}
		// Past the byte of bit i, every bit is drawn: equally seeded
		// Rands drew the same.
		if !bytes.Equal(ia[i/8+1:], ib[i/8+1:]) {
			t.Fatalf("bucket %d: equally seeded Rands drew different IDs:\n%x\n%x", i, ia, ib)
		}
	}
}

// TestCarryTakesCandidatePings checks that with Config.Carry a new inbound
// candidate's ping is handed to Carry (no goroutine), and that answering
// it enters the candidate in the table.
func TestCarryTakesCandidatePings(t *testing.T) {
	mn := &memNet{}
	var carried []*Call
	a := mn.add(t, "net", testKey(t, 11, 0), memAddr(0), func(c *Config) { c.Carry = func(c *Call) { carried = append(carried, c) } })
	b := mn.add(t, "net", testKey(t, 11, 1), memAddr(1), nil)
	c, err := b.dht.Prepare(a.address(), &Message{Type: MsgFindNode, Target: b.key.ID()})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.Request(context.Background(), c.To, c.Req)
	if _, err := c.Answer(resp, err); err != nil {
		t.Fatal(err)
	}
	if !b.dht.Table().Contains(a.key.ID()) {
		t.Fatal("the answering server did not enter the querier's table")
	}
	if len(carried) != 1 || carried[0].To.ID != b.key.ID() || a.dht.Verifying() != 1 {
		t.Fatalf("carried %d calls, %d verifying; want the ping of the querier", len(carried), a.dht.Verifying())
	}
	if a.dht.Table().Contains(b.key.ID()) {
		t.Fatal("the candidate entered the table before its ping was answered")
	}
	p := carried[0]
	resp, err = a.Request(context.Background(), p.To, p.Req)
	if _, err := p.Answer(resp, err); err != nil {
		t.Fatal(err)
	}
	if !a.dht.Table().Contains(b.key.ID()) || a.dht.Verifying() != 0 {
		t.Fatalf("after the ping's answer: in table %v, %d verifying", a.dht.Table().Contains(b.key.ID()), a.dht.Verifying())
	}
}
