package dht

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// The stepping API: the DHT's work as values its caller carries, for a
// caller that runs many DHTs on one event loop of its own (the simulator,
// package sim) and so can neither block in Transport.Request nor let the
// DHT start goroutines. Prepare makes one request a Call; StartLookup runs
// Lookup's algorithm one answer at a time; RevalidateCalls are
// Revalidate's pings; Config.Carry takes the pings Handle starts. The
// blocking methods (Lookup, Revalidate, Bootstrap, Refresh, Start's
// maintenance) run the same code over Transport, so both ways of driving
// a DHT behave alike; only who waits for the answers differs.

// A Call is one request of the DHT's that its caller carries: it sends Req
// to To (over a connection authenticated as To.ID) and hands the answer,
// or the error that took its place, to Answer, exactly once. A caller that
// carries calls also bounds them by Config.QueryTimeout.
type Call struct {
	To  crypto.Address
	Req []byte

	d    *DHT
	sent MsgType
	then func(*Message, error)
}

// Prepare makes m, to be sent to to, a Call: the request the blocking
// query would send (the node's record in it while a server), counted as
// sent. The answer, through Call.Answer, is checked as any other: a
// server that answered enters the table.
func (d *DHT) Prepare(to crypto.Address, m *Message) (*Call, error) {
	return d.newCall(to, m, nil)
}

func (d *DHT) newCall(to crypto.Address, m *Message, then func(*Message, error)) (*Call, error) {
	if d.server.Load() {
		m.Self = d.self.Load().Bytes()
	}
	req, err := m.Encode()
	if err != nil {
		return nil, err
	}
	d.queries.Add(1)
	d.mu.Lock()
	d.asking[to.ID]++
	d.mu.Unlock()
	return &Call{To: to, Req: req, d: d, sent: m.Type, then: then}, nil
}

// Answer hands the DHT resp, the answer to c, or err if none came. It
// returns the decoded answer, whose own record is verified and belongs to
// c.To.ID, or why there is none.
func (c *Call) Answer(resp []byte, err error) (*Message, error) {
	ans, err := c.finish(resp, err)
	if c.then != nil {
		c.then(ans, err)
	}
	return ans, err
}

func (c *Call) finish(resp []byte, err error) (*Message, error) {
	d := c.d
	defer func() {
		d.mu.Lock()
		if d.asking[c.To.ID]--; d.asking[c.To.ID] == 0 {
			delete(d.asking, c.To.ID)
		}
		d.mu.Unlock()
	}()
	if err == nil {
		var ans *Message
		if ans, err = d.checkAnswer(c.To, c.sent, resp); err == nil {
			return ans, nil
		}
		if d.cfg.OnBadAnswer != nil {
			d.cfg.OnBadAnswer(c.To.ID, err)
		}
	}
	d.queryFails.Add(1)
	if errors.Is(err, ErrNotSent) {
		d.notSent.Add(1) // after queryFails: Stats reads it first
	}
	return nil, err
}

// LookupRun is one lookup driven by its caller: Next returns the calls to
// send now (at most Alpha in flight); once each is answered, Next returns
// the next ones, until Done; Finish then returns what Lookup would. It is
// Lookup's algorithm, not safe for concurrent use.
type LookupRun struct {
	d        *DHT
	target   crypto.ID
	start    time.Time
	st       LookupStats
	byID     map[crypto.ID]*lookupCand
	list     []*lookupCand // sorted by distance
	inflight int
	finished bool
}

// StartLookup starts a lookup of target from the table's closest entries
// (from the bootstrap nodes, Config.Bootstrap and BootstrapFunc, when the
// table is empty).
func (d *DHT) StartLookup(target crypto.ID) *LookupRun {
	l := &LookupRun{d: d, target: target, start: d.cfg.Clock.Now(), byID: map[crypto.ID]*lookupCand{}}
	for _, c := range d.table.Closest(target, BucketSize) {
		l.add(&lookupCand{addr: crypto.Address{ID: c.ID(), Host: c.Addr.Addr().String(), Port: c.Addr.Port()}, rec: c.Record, hop: 1})
	}
	if len(l.list) == 0 {
		for _, b := range d.bootstrap() {
			l.add(&lookupCand{addr: b, hop: 1})
		}
	}
	return l
}

func (l *LookupRun) add(c *lookupCand) {
	if c.addr.ID == l.d.cfg.Identity.ID() || l.byID[c.addr.ID] != nil {
		return
	}
	c.dist = Distance(l.target, c.addr.ID)
	l.byID[c.addr.ID] = c
	i, _ := slices.BinarySearchFunc(l.list, c, func(a, b *lookupCand) int { return bytes.Compare(a.dist[:], b.dist[:]) })
	l.list = slices.Insert(l.list, i, c)
}

// Next returns the calls to send now: the closest unasked candidates
// among the BucketSize closest that have not failed, while fewer than
// Alpha are in flight and fewer than MaxLookupQueries were sent.
func (l *LookupRun) Next() []*Call {
	var out []*Call
	live := 0
	q := l.d.newQuota()
	for _, c := range l.list {
		if live >= BucketSize || l.inflight >= Alpha || l.st.Queries >= MaxLookupQueries {
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
		l.inflight++
		l.st.Queries++
		call, err := l.d.newCall(c.addr, &Message{Type: MsgFindNode, Target: l.target}, func(ans *Message, err error) { l.answered(c, ans, err) })
		if err != nil {
			l.answered(c, nil, err)
			continue
		}
		out = append(out, call)
	}
	return out
}

// Done reports whether the lookup has ended: no call in flight and none
// left to send.
func (l *LookupRun) Done() bool { return l.inflight == 0 }

func (l *LookupRun) answered(c *lookupCand, ans *Message, err error) {
	l.inflight--
	if err != nil {
		c.state = stateFailed
		l.st.Failures++
		return
	}
	d := l.d
	c.state = stateAnswered
	if rec, err := d.decode(ans.Self); err == nil && (c.rec == nil || rec.Seq > c.rec.Seq) {
		c.rec = rec
	}
	for _, raw := range ans.Nodes {
		rec, err := d.decode(raw)
		if err != nil || !rec.Server() {
			continue
		}
		if old := l.byID[rec.ID]; old != nil {
			if old.rec != nil && rec.Seq > old.rec.Seq && old.state == stateNew {
				if a, ok := d.dialAddr(rec); ok {
					old.rec, old.addr = rec, a
				}
			}
			continue
		}
		if a, ok := d.dialAddr(rec); ok {
			l.add(&lookupCand{addr: a, rec: rec, hop: c.hop + 1})
		}
	}
}

// Finish ends the lookup (Done must be true): it returns the records of
// the BucketSize closest nodes that answered, under the result diversity
// bounds, closest first, counts the lookup and hands them to
// Config.OnFound, as Lookup does. It does nothing after its first call.
func (l *LookupRun) Finish() ([]*Record, LookupStats) {
	d := l.d
	var found []*Record
	q := d.newQuota()
	for _, c := range l.list {
		if len(found) == BucketSize {
			break
		}
		if c.state == stateAnswered && c.rec != nil && q.take(c.addr) {
			if len(found) == 0 {
				l.st.Hops = c.hop
			}
			found = append(found, c.rec)
		}
	}
	l.st.Duration = d.cfg.Clock.Now().Sub(l.start)
	if l.finished {
		return found, l.st
	}
	l.finished = true
	d.lookups.Add(1)
	if len(found) == 0 {
		d.lookupFails.Add(1)
	} else if d.cfg.OnFound != nil {
		d.cfg.OnFound(found)
	}
	return found, l.st
}

// RevalidateCalls returns Revalidate's pings as calls: of the least
// recently seen entry of a random non-empty bucket (a failed answer counts
// toward its removal) and of one inbound candidate, either absent when
// there is none.
func (d *DHT) RevalidateCalls() []*Call {
	var out []*Call
	if c := d.revalidateEntry(func() bool { return true }); c != nil {
		out = append(out, c)
	}
	if c := d.candidatePing(); c != nil {
		out = append(out, c)
	}
	return out
}

// revalidateEntry returns the ping of the least recently seen entry of a
// random non-empty bucket, or nil; a failure counts when count says so,
// and never when the ping was not sent (ErrNotSent): our own lack of a
// connection slot is no sign that the node is gone.
func (d *DHT) revalidateEntry(count func() bool) *Call {
	var nonEmpty []int
	for i := range IDBits {
		if _, ok := d.table.Oldest(i); ok {
			nonEmpty = append(nonEmpty, i)
		}
	}
	if len(nonEmpty) == 0 {
		return nil
	}
	c, _ := d.table.Oldest(nonEmpty[d.intN(len(nonEmpty))])
	addr := crypto.Address{ID: c.ID(), Host: c.Addr.Addr().String(), Port: c.Addr.Port()}
	call, err := d.newCall(addr, &Message{Type: MsgPing}, func(_ *Message, err error) {
		if err != nil && !errors.Is(err, ErrNotSent) && count() {
			d.table.Failed(c.ID(), d.cfg.MaxFailures)
		}
	})
	if err != nil {
		return nil
	}
	return call
}

// candidatePing takes a random inbound candidate and returns its ping, or
// nil when there is none (or it has no address we may dial).
func (d *DHT) candidatePing() *Call {
	d.mu.Lock()
	ids := make([]crypto.ID, 0, len(d.candidates))
	for id := range d.candidates {
		ids = append(ids, id)
	}
	var cand *Record
	if len(ids) > 0 {
		slices.SortFunc(ids, func(a, b crypto.ID) int { return bytes.Compare(a[:], b[:]) })
		id := ids[d.intN(len(ids))]
		cand = d.candidates[id]
		delete(d.candidates, id)
	}
	d.mu.Unlock()
	if cand == nil {
		return nil
	}
	a, ok := d.dialAddr(cand)
	if !ok {
		return nil
	}
	call, err := d.newCall(a, &Message{Type: MsgPing}, nil)
	if err != nil {
		return nil
	}
	return call
}

// RandomID returns a random ID in the node's bucket i (RandomIDInBucket
// of its own ID), drawn from Config.Rand.
func (d *DHT) RandomID(i int) crypto.ID {
	d.randMu.Lock()
	defer d.randMu.Unlock()
	return randomIDInBucket(d.cfg.Rand, d.cfg.Identity.ID(), i)
}

// intN draws from Config.Rand under its lock.
func (d *DHT) intN(n int) int {
	d.randMu.Lock()
	defer d.randMu.Unlock()
	return d.cfg.Rand.IntN(n)
}

// globalSource is math/rand/v2's global source as a rand.Source: the
// default of Config.Rand.
type globalSource struct{}

func (globalSource) Uint64() uint64 { return rand.Uint64() }
