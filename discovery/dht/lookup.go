package dht

import (
	"bytes"
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// LookupStats describes one lookup.
type LookupStats struct {
	// Queries is the requests sent, Failures those that got no valid answer.
	Queries, Failures int
	// Hops is how many queries deep the closest result was found: 1 if it
	// was in our table, 2 if a node of our table reported it, and so on.
	Hops int
	// Duration is the lookup's time.
	Duration time.Duration
}

type lookupState uint8

const (
	stateNew lookupState = iota
	stateAsked
	stateAnswered
	stateFailed
)

type lookupCand struct {
	addr  crypto.Address
	rec   *Record // nil for a bootstrap address
	dist  crypto.ID
	hop   int
	state lookupState
}

type lookupReply struct {
	c   *lookupCand
	ans *Message
	err error
}

// Lookup finds the BucketSize nodes closest to target that answer, at
// most Limits.ResultPer24 of one /24 (/48) and ResultPerGroup of one /16
// (/32) among them (the closest of each): it
// asks the closest known nodes, Alpha at a time, for the nodes closest to
// target, and the closest of those, until the BucketSize closest nodes
// seen have all answered (or failed, and are dropped). It returns their
// records, closest first, and hands them to Config.OnFound. Each query is
// bounded by Config.QueryTimeout, and a lookup by MaxLookupQueries.
func (d *DHT) Lookup(ctx context.Context, target crypto.ID) ([]*Record, LookupStats) {
	start := d.cfg.Clock.Now()
	self := d.cfg.Identity.ID()
	var st LookupStats
	byID := map[crypto.ID]*lookupCand{}
	var list []*lookupCand // sorted by distance
	add := func(c *lookupCand) {
		if c.addr.ID == self || byID[c.addr.ID] != nil {
			return
		}
		c.dist = Distance(target, c.addr.ID)
		byID[c.addr.ID] = c
		i, _ := slices.BinarySearchFunc(list, c, func(a, b *lookupCand) int { return bytes.Compare(a.dist[:], b.dist[:]) })
		list = slices.Insert(list, i, c)
	}
	for _, c := range d.table.Closest(target, BucketSize) {
		add(&lookupCand{addr: crypto.Address{ID: c.ID(), Host: c.Addr.Addr().String(), Port: c.Addr.Port()}, rec: c.Record, hop: 1})
	}
	if len(list) == 0 {
		for _, b := range d.cfg.Bootstrap {
			add(&lookupCand{addr: b, hop: 1})
		}
	}
	replies := make(chan lookupReply, MaxLookupQueries)
	inflight := 0
	for {
		// Ask the closest unasked candidates among the BucketSize closest
		// that have not failed.
		live := 0
		q := d.newQuota()
		for _, c := range list {
			if live >= BucketSize || inflight >= Alpha || st.Queries >= MaxLookupQueries {
				break
			}
			if c.state == stateFailed || !q.take(c.addr) {
				continue
			}
			live++
			if c.state != stateNew {
				continue
			}
			c.state = stateAsked
			inflight++
			st.Queries++
			go func() { // Lookup returns only once every query has
				ans, err := d.query(ctx, c.addr, &Message{Type: MsgFindNode, Target: target})
				replies <- lookupReply{c, ans, err}
			}()
		}
		if inflight == 0 {
			break
		}
		r := <-replies
		inflight--
		if r.err != nil {
			r.c.state = stateFailed
			st.Failures++
			continue
		}
		r.c.state = stateAnswered
		if rec, err := d.decode(r.ans.Self); err == nil && (r.c.rec == nil || rec.Seq > r.c.rec.Seq) {
			r.c.rec = rec
		}
		for _, raw := range r.ans.Nodes {
			rec, err := d.decode(raw)
			if err != nil || !rec.Server() {
				continue
			}
			if old := byID[rec.ID]; old != nil {
				if old.rec != nil && rec.Seq > old.rec.Seq && old.state == stateNew {
					if a, ok := d.dialAddr(rec); ok {
						old.rec, old.addr = rec, a
					}
				}
				continue
			}
			if a, ok := d.dialAddr(rec); ok {
				add(&lookupCand{addr: a, rec: rec, hop: r.c.hop + 1})
			}
		}
	}
	var found []*Record
	q := d.newQuota()
	for _, c := range list {
		if len(found) == BucketSize {
			break
		}
		if c.state == stateAnswered && c.rec != nil && q.take(c.addr) {
			if len(found) == 0 {
				st.Hops = c.hop
			}
			found = append(found, c.rec)
		}
	}
	st.Duration = d.cfg.Clock.Now().Sub(start)
	d.lookups.Add(1)
	if len(found) == 0 {
		d.lookupFails.Add(1)
	} else if d.cfg.OnFound != nil {
		d.cfg.OnFound(found)
	}
	return found, st
}

// quota applies the result diversity bounds (Limits.ResultPer24,
// ResultPerGroup) to a lookup's closest set.
type quota struct {
	t           *Table
	n24, nGroup map[netip.Prefix]int
}

func (d *DHT) newQuota() *quota {
	return &quota{t: d.table, n24: map[netip.Prefix]int{}, nGroup: map[netip.Prefix]int{}}
}

// take reports whether one more node at addr fits, and counts it if so.
// An address that is not an IP (a bootstrap node's name) always fits.
func (q *quota) take(addr crypto.Address) bool {
	ap, ok := addr.AddrPort()
	if !ok {
		return true
	}
	p24, group, counted := q.t.prefixes(ap.Addr())
	if !counted {
		return true
	}
	l := q.t.limits
	if q.n24[p24] >= l.ResultPer24 || q.nGroup[group] >= l.ResultPerGroup {
		return false
	}
	q.n24[p24]++
	q.nGroup[group]++
	return true
}
