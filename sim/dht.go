package sim

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/discovery/dht"
)

// The DHT (Config.DHT): every honest node runs the real discovery/dht.DHT,
// a server if it listens, a client behind NAT, on the sim's clock and a
// seeded randomness of its own (dht.Config.Rand), driven through dht's
// stepping API: each request is a dht.Call carried by the event loop with
// the sim's latency, answered by the target's real DHT.Handle (or by the
// attacker's script), so virtual time advances per query. The services
// mirror dht.DHT's maintain loop (Start): a bootstrap (FIND_NODE of itself
// to each bootstrap node, then a refresh), revalidation every
// RevalidateInterval (a bootstrap instead while the table is empty), a
// refresh every RefreshInterval (a lookup of itself, then of a random ID
// in each bucket up to the deepest), each job after the previous one, as
// on the maintain goroutine. What lookups find goes into the book as
// source dht (Book.AddDHT), as p2p's dhtFound does.

// dhtNetwork is the network ID the simulated records are signed for.
const dhtNetwork = "peerwire-sim"

// dhtProbes is how many honest nodes run a probe lookup of a random
// target at each sample (the discovery convergence outcome).
const dhtProbes = 16

// dhtRecallConverged is the probes' mean recall at which the DHT counts as
// converged (Result.DHTConvergence).
const dhtRecallConverged = 0.9

// errNoAnswer is the error of a call nobody answered within the query
// timeout.
var errNoAnswer = errors.New("sim: no answer within the query timeout")

// errNotCarried is noTransport's: the sim carries every call itself.
var errNotCarried = errors.New("sim: requests are carried by the event loop")

type noTransport struct{}

func (noTransport) Request(context.Context, crypto.Address, []byte) ([]byte, error) {
	return nil, errNotCarried
}

// identity returns the signing key of endpoint index i of a kind (0
// honest, 1 attacker), from the run's seed.
func (s *Sim) identity(kind, i int) (*crypto.Identity, error) {
	r := stream(s.cfg.Seed, kindID, uint64(kind)<<32|uint64(i))
	var seed [32]byte
	for j := 0; j < 32; j += 8 {
		binary.LittleEndian.PutUint64(seed[j:], r.Uint64())
	}
	return crypto.IdentityFromSeed(seed[:])
}

// dhtNode is a node's DHT state for one epoch (a restart builds a new DHT,
// as p2p's Start does; the book is kept).
type dhtNode struct {
	d    *dht.DHT
	busy bool // a bootstrap or refresh is running (the maintain goroutine's one job)
	// transient is when the last query to a node without a peer
	// connection was answered: p2p's transient connection, reused for
	// TransientIdleTimeout.
	transient map[crypto.ID]time.Duration
}

// transientIdle is p2p.TransientIdleTimeout.
const transientIdle = 10 * time.Second

// startDHT builds the node's DHT for this epoch and schedules its
// services at random phases.
func (n *node) startDHT() error {
	s := n.s
	cfg := dht.Config{Identity: n.ep.key, Network: dhtNetwork, Transport: noTransport{}, Mode: dht.ModeClient,
		Bootstrap: s.boot, Clock: s.eng.clk,
		Rand:    rand.New(stream(s.cfg.Seed, kindDHT, uint64(n.idx)<<16|uint64(n.epoch))),
		OnFound: n.dhtFound,
	}
	if n.ep.listening {
		cfg.Mode = dht.ModeServer
		cfg.Addrs = []netip.AddrPort{netip.AddrPortFrom(n.ep.ip, n.ep.port)}
	}
	ep := n.epoch
	cfg.Carry = func(c *dht.Call) {
		// Handle's candidate ping: carried from its own event, never
		// within Handle.
		s.eng.after(0, func() { n.carry(ep, c, nil) })
	}
	d, err := dht.New(cfg)
	if err != nil {
		return err
	}
	n.dht = &dhtNode{d: d, transient: map[crypto.ID]time.Duration{}}
	n.every(dht.DefaultRevalidateInterval, n.dhtRevalidate)
	n.every(dht.DefaultRefreshInterval, func() { n.dhtJob(n.dhtRefresh) })
	s.eng.after(time.Duration(n.rng.Int64N(int64(time.Second))), func() {
		if n.epoch == ep && n.online {
			n.dhtJob(n.dhtBootstrap)
		}
	})
	return nil
}

// dhtJob runs job (which calls done when finished) unless one is running:
// the maintain goroutine does one thing at a time, and a time.Ticker
// drops the ticks it misses.
func (n *node) dhtJob(job func(done func())) {
	dn := n.dht
	if dn == nil || dn.busy {
		return
	}
	dn.busy = true
	job(func() { dn.busy = false })
}

// dhtBootstrap is DHT.Bootstrap: FIND_NODE of itself to each bootstrap
// node (one after another), then a refresh if any answered or the table
// has entries.
func (n *node) dhtBootstrap(done func()) {
	d := n.dht.d
	ep := n.epoch
	self := n.ep.id
	ok := d.Table().Len() > 0
	var next func(i int)
	next = func(i int) {
		for i < len(n.s.boot) && n.s.boot[i].ID == self {
			i++
		}
		if i == len(n.s.boot) {
			if ok {
				n.dhtRefresh(done)
			} else {
				done()
			}
			return
		}
		c, err := d.Prepare(n.s.boot[i], &dht.Message{Type: dht.MsgFindNode, Target: self})
		if err != nil {
			next(i + 1)
			return
		}
		n.carry(ep, c, func(err error) {
			ok = ok || err == nil
			next(i + 1)
		})
	}
	next(0)
}

// dhtRefresh is DHT.Refresh: a lookup of itself, then of a random ID in
// every bucket up to the deepest non-empty one, one after another.
func (n *node) dhtRefresh(done func()) {
	d := n.dht.d
	var depth int
	var next func(i int)
	next = func(i int) {
		if i > min(depth, dht.IDBits-1) {
			done()
			return
		}
		n.lookup(d.RandomID(i), func([]*dht.Record, dht.LookupStats) { next(i + 1) })
	}
	n.lookup(n.ep.id, func([]*dht.Record, dht.LookupStats) {
		depth = d.Table().Stats().Depth
		next(0)
	})
}

// dhtRevalidate is the maintain loop's revalidation tick: a bootstrap
// while the table is empty, else DHT.Revalidate's pings.
func (n *node) dhtRevalidate() {
	dn := n.dht
	if dn == nil || dn.busy {
		return
	}
	if dn.d.Table().Len() == 0 {
		n.dhtJob(n.dhtBootstrap)
		return
	}
	ep := n.epoch
	for _, c := range dn.d.RevalidateCalls() {
		n.carry(ep, c, nil)
	}
}

// lookup runs one lookup of target through the stepping API and calls
// done with its outcome (unless the node restarts first).
func (n *node) lookup(target crypto.ID, done func([]*dht.Record, dht.LookupStats)) {
	l := n.dht.d.StartLookup(target)
	ep := n.epoch
	var step func(error)
	step = func(error) {
		for _, c := range l.Next() {
			n.carry(ep, c, step)
		}
		if l.Done() {
			done(l.Finish())
		}
	}
	step(nil)
}

// carry sends c from n and answers it after the round trip (plus a dial,
// as p2p's dhtTransport dials when there is neither a peer connection nor
// a transient one used within transientIdle), or after the
// query timeout when nobody answers: the target is offline, elsewhere, or
// the round trip is longer. then, if set, runs after the answer.
func (n *node) carry(ep int, c *dht.Call, then func(error)) {
	s := n.s
	s.res.DHTQueries++
	answer := func(resp []byte, err error) {
		if n.epoch != ep || !n.online {
			return // a restarted node's DHT is gone
		}
		_, err = c.Answer(resp, err)
		if then != nil {
			then(err)
		}
	}
	t := s.byID[c.To.ID]
	ap, ok := c.To.AddrPort()
	timeout := dht.DefaultQueryTimeout
	if !ok || t == nil || t.ip != ap.Addr() || t.port != ap.Port() || !t.listening {
		s.eng.after(timeout, func() { answer(nil, errNoAnswer) })
		return
	}
	setup := time.Duration(0)
	dn := n.dht
	if last, ok := dn.transient[t.id]; n.byID[t.id] == nil && (!ok || s.eng.now-last > transientIdle) {
		setup = 3 * oneWay(n.ep, t) // TCP and handshake: 1.5 round trips
	}
	there, back := setup+oneWay(n.ep, t), oneWay(t, n.ep)
	if there+back > timeout {
		s.eng.after(timeout, func() { answer(nil, errNoAnswer) })
		return
	}
	from := n.ep
	s.eng.after(there, func() {
		if !t.online() {
			s.eng.after(timeout-there, func() { answer(nil, errNoAnswer) })
			return
		}
		var resp []byte
		var err error
		if t.node != nil {
			if t.node.dht == nil {
				err = errors.New("sim: no DHT")
			} else {
				resp, err = t.node.dht.d.Handle(context.Background(), from.id, c.Req)
			}
		} else {
			resp, err = t.atk.handleDHT(t, c.Req)
		}
		s.eng.after(back, func() {
			if n.byID[t.id] == nil && n.dht == dn {
				dn.transient[t.id] = s.eng.now
			}
			answer(resp, err)
		})
	})
}

// dhtFound is p2p's dhtFound: a lookup's records go into the book, source
// dht, under the PEX checks.
func (n *node) dhtFound(recs []*dht.Record) {
	for _, r := range recs {
		for _, ap := range r.Addrs {
			if !dht.Routable(ap.Addr()) {
				continue
			}
			if _, known := n.book.Get(r.ID); known {
				break
			}
			if n.book.AddDHT(crypto.Address{ID: r.ID, Host: ap.Addr().String(), Port: ap.Port()}) == nil {
				n.s.res.DHTBookAdded++
				break
			}
		}
	}
}

// at attacker addresses.
func (s *Sim) dhtProbe() {
	var on []*node
	for _, n := range s.nodes {
		if n.online && n.dht != nil {
			on = append(on, n)
		}
	}
	if len(on) == 0 {
		return
	}
	round := len(s.dhtRounds)
	s.dhtRounds = append(s.dhtRounds, dhtRound{t: s.eng.now})
	for range min(dhtProbes, len(on)) {
		n := on[s.probeRng.IntN(len(on))]
		var target crypto.ID
		for i := range target {
			target[i] = byte(s.probeRng.Uint32())
		}
		n.lookup(target, func(found []*dht.Record, st dht.LookupStats) {
			ideal := s.idealClosest(target, n)
			want := map[crypto.ID]bool{}
			for _, id := range ideal {
				want[id] = true
			}
			hit, atk := 0, 0
			for _, r := range found {
				if want[r.ID] {
					hit++
				}
				if len(r.Addrs) > 0 && s.atk.owns(r.Addrs[0].Addr()) {
					atk++
				}
			}
			rd := &s.dhtRounds[round]
			rd.n++
			if len(ideal) > 0 {
				rd.recall += float64(hit) / float64(len(ideal))
			} else {
				rd.recall++
			}
			rd.found += len(found)
			rd.atk += atk
			s.res.DHTMaxResultAttackers = max(s.res.DHTMaxResultAttackers, atk)
			s.res.dhtHops = append(s.res.dhtHops, float64(st.Hops))
			s.res.dhtTimes = append(s.res.dhtTimes, st.Duration)
		})
	}
}

// dhtRound is one sample's probe lookups: how many finished, their summed
// recall, records found and attacker records among them.
type dhtRound struct {
	t          time.Duration
	n          int
	recall     float64
	found, atk int
}

// idealClosest returns what a perfect lookup from n would find: the
// BucketSize online honest servers closest to target, the closest of each
// /24 and /16 only.
func (s *Sim) idealClosest(target crypto.ID, from *node) []crypto.ID {
	var ids []crypto.ID
	for _, n := range s.nodes {
		if n != from && n.online && n.dht != nil && n.dht.d.Server() {
			ids = append(ids, n.ep.id)
		}
	}
	dht.SortByDistance(target, ids)
	n24, n16 := map[netip.Prefix]bool{}, map[netip.Prefix]bool{}
	var out []crypto.ID
	for _, id := range ids {
		ip := s.byID[id].ip
		p24, _ := ip.Prefix(24)
		p16, _ := ip.Prefix(16)
		if n24[p24] || n16[p16] {
			continue
		}
		n24[p24], n16[p16] = true, true
		out = append(out, id)
		if len(out) == dht.BucketSize {
			break
		}
	}
	return out
}

// dhtTables returns the attacker's share of the table entries of ns, and
// their mean entries.
func (s *Sim) dhtTables(ns []*node) (share, mean float64) {
	tot, atk, cnt := 0, 0, 0
	for _, n := range ns {
		if !n.online || n.dht == nil {
			continue
		}
		cnt++
		for _, c := range n.dht.d.Table().Entries() {
			tot++
			if s.atk.owns(c.Addr.Addr()) {
				atk++
			}
		}
	}
	if tot > 0 {
		share = float64(atk) / float64(tot)
	}
	if cnt > 0 {
		mean = float64(tot) / float64(cnt)
	}
	return share, mean
}

// finishDHT computes the DHT outcomes at the end of the run.
func (s *Sim) finishDHT() {
	r := s.res
	r.DHTTableShare, r.DHTEntries = s.dhtTables(s.nodes)
	r.DHTTableShareVictims, _ = s.dhtTables(s.victims)
	r.DHTConvergence = -1
	at := map[time.Duration]int{}
	for i, sm := range r.Samples {
		at[sm.T] = i
	}
	var recalls, shares []float64
	for _, rd := range s.dhtRounds {
		i, ok := at[rd.t]
		if !ok || rd.n == 0 {
			continue
		}
		sm := &r.Samples[i]
		sm.DHTRecall = rd.recall / float64(rd.n)
		if rd.found > 0 {
			sm.DHTResultShare = float64(rd.atk) / float64(rd.found)
		}
		if r.DHTConvergence < 0 && sm.DHTRecall >= dhtRecallConverged {
			r.DHTConvergence = rd.t
		}
		recalls = append(recalls, sm.DHTRecall)
		shares = append(shares, sm.DHTResultShare)
	}
	q := len(recalls) - max(1, len(recalls)/4) // the last quarter of the rounds that finished
	recalls, shares = recalls[max(0, q):], shares[max(0, q):]
	mean := func(xs []float64) float64 {
		t := 0.0
		for _, x := range xs {
			t += x
		}
		if len(xs) == 0 {
			return 0
		}
		return t / float64(len(xs))
	}
	r.DHTRecall, r.DHTResultShare = mean(recalls), mean(shares)
	r.DHTHops = mean(r.dhtHops)
	if len(r.dhtTimes) > 0 {
		ts := slices.Clone(r.dhtTimes)
		slices.Sort(ts)
		r.DHTLookupTime = ts[len(ts)/2]
	}
}
