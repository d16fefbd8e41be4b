package sim

// The attacker's side of the DHT (dht.go is the honest nodes'): its
// identities answer requests with each other and push contacts to honest
// nodes.

import (
	"bytes"
	"context"
	"slices"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/discovery/dht"
)

// handleDHT is an attacker identity's answer to a DHT request: a PONG, or
// NODES with the MaxNodes attacker identities closest to the target (all
// signed records of its own), so honest lookups that reach it are steered
// to more of it. It answers every request.
func (a *attacker) handleDHT(self *endpoint, req []byte) ([]byte, error) {
	m, err := dht.DecodeMessage(req)
	if err != nil {
		return nil, err
	}
	ans := &dht.Message{Type: dht.MsgPong, Self: self.rec.Bytes()}
	if m.Type == dht.MsgFindNode {
		ans.Type = dht.MsgNodes
		for _, e := range a.closest(m.Target, dht.MaxNodes) {
			ans.Nodes = append(ans.Nodes, e.rec.Bytes())
		}
		a.s.res.DHTPoisonSent += len(ans.Nodes)
	}
	return ans.Encode()
}

// closest returns the k attacker identities closest to target.
func (a *attacker) closest(target crypto.ID, k int) []*endpoint {
	var out []*endpoint
	var dists []crypto.ID
	for _, e := range a.eps {
		d := dht.Distance(target, e.id)
		i, _ := slices.BinarySearchFunc(dists, d, func(x, y crypto.ID) int { return bytes.Compare(x[:], y[:]) })
		if i >= k {
			continue
		}
		dists = slices.Insert(dists, i, d)
		out = slices.Insert(out, i, e)
		if len(out) > k {
			dists, out = dists[:k], out[:k]
		}
	}
	return out
}

// dhtContact makes every attacker identity query its spread node and each
// victim with its record, which the honest node's Handle takes as a
// candidate and pings (Config.Carry): the attacker's way into tables
// besides the lookups it answers. The answers are dropped.
func (a *attacker) dhtContact() {
	s := a.s
	for i, ep := range a.eps {
		targets := slices.Clone(s.victims)
		if a.spread != nil && a.spread[i] != nil {
			targets = append(targets, a.spread[i])
		}
		req, err := (&dht.Message{Type: dht.MsgFindNode, Target: ep.id, Self: ep.rec.Bytes()}).Encode()
		if err != nil {
			continue
		}
		for _, v := range targets {
			s.eng.after(3*oneWay(ep, v.ep), func() {
				if v.online && v.dht != nil {
					_, _ = v.dht.d.Handle(context.Background(), ep.id, req)
				}
			})
		}
	}
	s.eng.after(dht.DefaultRefreshInterval, a.dhtContact)
}

// dhtProbe runs the sample's probe lookups: dhtProbes online honest
// nodes, each a lookup of a random target; a finished lookup's recall is
// the share of the ideal result it found (the BucketSize online honest
// servers closest to the target, at most one per /24 and per /16 as the
// lookup's own result bound), its attacker share the share of its records
