package dht

import (
	"context"
	"errors"
	"fmt"

	"github.com/peerwire/peerwire/crypto"
)

// The DHT's queries and answers over the transport: dialing a record's
// address, sending a query and checking its answer, serving others'
// queries, and the candidates their answers and contacts produce.

// dialAddr returns the first of r's addresses that Config.AllowAddr allows.
func (d *DHT) dialAddr(r *Record) (crypto.Address, bool) {
	for _, a := range r.Addrs {
		if d.cfg.AllowAddr(a) {
			return crypto.Address{ID: r.ID, Host: a.Addr().String(), Port: a.Port()}, true
		}
	}
	return crypto.Address{}, false
}

// query sends m to addr and returns the answer, whose own record is
// verified and belongs to addr.ID. A server that answered enters the
// table at addr: an outbound request to it succeeded.
func (d *DHT) query(ctx context.Context, addr crypto.Address, m *Message) (*Message, error) {
	c, err := d.newCall(addr, m, nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.request(ctx, c)
	return c.Answer(resp, err)
}

// request carries c over Transport, bounded by Config.QueryTimeout.
func (d *DHT) request(ctx context.Context, c *Call) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.QueryTimeout)
	defer cancel()
	return d.cfg.Transport.Request(ctx, c.To, c.Req)
}

func (d *DHT) checkAnswer(addr crypto.Address, sent MsgType, resp []byte) (*Message, error) {
	ans, err := DecodeMessage(resp)
	if err != nil {
		return nil, err
	}
	want := MsgNodes
	if sent == MsgPing {
		want = MsgPong
	}
	if ans.Type != want {
		return nil, fmt.Errorf("%w: answer of type %d to type %d", ErrBadMessage, ans.Type, sent)
	}
	rec, err := d.decode(ans.Self)
	if err != nil {
		return nil, err
	}
	if rec.ID != addr.ID {
		return nil, fmt.Errorf("%w: answer carries the record of %s, not %s", ErrBadRecord, rec.ID.Short(), addr.ID.Short())
	}
	ap, ok := addr.AddrPort()
	if ok && rec.Server() {
		d.table.Add(rec, ap, d.cfg.Clock.Now())
	}
	return ans, nil
}

// Handle answers a peer's request: the function the node's transport
// calls for each request on the DHT topic. NODES carries the table's
// entries closest to the target under the same diversity bounds as a
// lookup's results (Limits.ResultPer24, ResultPerGroup), so an attacker's
// block of addresses cannot crowd honest nodes out of an answer. A client refuses every request;
// a malformed one returns an error wrapping ErrBadMessage or ErrBadRecord.
func (d *DHT) Handle(_ context.Context, from crypto.ID, req []byte) ([]byte, error) {
	if !d.server.Load() {
		return nil, errors.New("dht: client mode, not answering")
	}
	m, err := DecodeMessage(req)
	if err == nil && m.Type != MsgFindNode && m.Type != MsgPing {
		err = fmt.Errorf("%w: request of type %d", ErrBadMessage, m.Type)
	}
	if err == nil && m.Self != nil {
		var r *Record
		if r, err = d.decode(m.Self); err == nil {
			if r.ID != from {
				err = fmt.Errorf("%w: request from %s carries the record of %s", ErrBadRecord, from.Short(), r.ID.Short())
			} else if r.Server() {
				d.candidate(r)
			}
		}
	}
	if err != nil {
		d.badReqs.Add(1)
		return nil, err
	}
	ans := &Message{Type: MsgPong, Self: d.self.Load().Bytes()}
	if m.Type == MsgFindNode {
		ans.Type = MsgNodes
		q := d.newQuota()
		for _, c := range d.table.Closest(m.Target, MaxNodesScan) {
			if len(ans.Nodes) >= MaxNodes {
				break // the rest would neither be sent nor charge the quota
			}
			a := crypto.Address{ID: c.ID(), Host: c.Addr.Addr().String(), Port: c.Addr.Port()}
			if c.ID() != from && len(ans.Nodes) < MaxNodes && q.take(a) {
				ans.Nodes = append(ans.Nodes, c.Record.Bytes())
			}
		}
	}
	d.served.Add(1)
	return ans.Encode()
}

// candidate takes r, an inbound contact that claims server mode, as a
// candidate: it is pinged at once (an outbound request, which enters it
// in the table if it answers) while fewer than MaxVerifying pings are in
// flight, and otherwise kept, up to Config.MaxCandidates, for
// revalidation to ping. One known already (an entry or a replacement) is left to revalidation.
func (d *DHT) candidate(r *Record) {
	if d.table.Known(r.ID) {
		return
	}
	d.mu.Lock()
	if d.stopped || d.asking[r.ID] > 0 {
		d.mu.Unlock()
		return // the answer to our own query will tell
	}
	if d.verifying.Load() < MaxVerifying {
		a, ok := d.dialAddr(r)
		if ok {
			delete(d.candidates, r.ID)
			d.verifying.Add(1)
			if d.cfg.Carry == nil {
				d.wg.Add(1) // under mu, after the stopped check: Stop waits for it
			}
		}
		d.mu.Unlock()
		if ok {
			d.verify(a)
		}
		return
	}
	defer d.mu.Unlock()
	if old := d.candidates[r.ID]; old != nil && old.Seq >= r.Seq {
		return
	}
	if _, ok := d.candidates[r.ID]; !ok && len(d.candidates) >= d.cfg.MaxCandidates {
		return
	}
	d.candidates[r.ID] = r
}

// verify pings a candidate at a, counted in verifying: over Config.Carry
// if set, else in a goroutine over Transport (whose d.wg.Add the caller
// made).
func (d *DHT) verify(a crypto.Address) {
	carry := d.cfg.Carry
	c, err := d.newCall(a, &Message{Type: MsgPing}, func(*Message, error) { d.verifying.Add(-1) })
	if err != nil {
		d.verifying.Add(-1)
		if carry == nil {
			d.wg.Done()
		}
		return
	}
	if carry != nil {
		carry(c)
		return
	}
	go func() {
		defer d.wg.Done()
		resp, err := d.request(d.ctx, c)
		c.Answer(resp, err)
	}()
}

// decode is DecodeRecord for the DHT's network, remembering up to
// MaxVerifiedCache verified records so a record seen again (every lookup
// sees the same closest nodes) costs a map lookup, not a signature check.
func (d *DHT) decode(b []byte) (*Record, error) {
	d.mu.Lock()
	r := d.verified[string(b)]
	d.mu.Unlock()
	if r != nil {
		return r, nil
	}
	r, err := DecodeRecord(d.cfg.Network, b)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if len(d.verified) >= MaxVerifiedCache {
		clear(d.verified)
	}
	d.verified[string(r.raw)] = r
	d.mu.Unlock()
	return r, nil
}
