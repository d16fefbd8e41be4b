package dht

import (
	"context"
	"net/netip"
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

// Lookup finds the BucketSize nodes closest to target that answer, at
// most Limits.ResultPer24 of one /24 (/48) and ResultPerGroup of one /16
// (/32) among them (the closest of each): it
// asks the closest known nodes, Alpha at a time, for the nodes closest to
// target, and the closest of those, until the BucketSize closest nodes
// seen have all answered (or failed, and are dropped). It returns their
// records, closest first, and hands them to Config.OnFound. Each query is
// bounded by Config.QueryTimeout, and a lookup by MaxLookupQueries.
func (d *DHT) Lookup(ctx context.Context, target crypto.ID) ([]*Record, LookupStats) {
	l := d.StartLookup(target)
	type reply struct {
		c    *Call
		resp []byte
		err  error
	}
	replies := make(chan reply, MaxLookupQueries)
	for {
		for _, c := range l.Next() {
			go func() { // Lookup returns only once every query has
				resp, err := d.request(ctx, c)
				replies <- reply{c, resp, err}
			}()
		}
		if l.Done() {
			break
		}
		r := <-replies
		r.c.Answer(r.resp, r.err)
	}
	return l.Finish()
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
