package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/p2p"
)

// traffic gossips transactions and blocks and sends votes for the
// configured duration.
func (d *demo) traffic(ctx context.Context) {
	d.setPhase("traffic")
	ctx, cancel := context.WithTimeout(ctx, d.o.duration)
	defer cancel()
	var wg sync.WaitGroup
	gossip := func(dn *demoNode, topic uint8, data []byte) {
		// Not the traffic context: a send still waiting for queue room
		// when the traffic phase ends must not be cut off.
		sctx, cancel := context.WithTimeout(context.Background(), gossipSendTimeout)
		at := d.since()
		id, res, err := dn.n.Gossip(sctx, topic, data)
		cancel()
		if err != nil {
			return
		}
		sentTo := 0
		for _, e := range res {
			if e == nil {
				sentTo++
			}
		}
		if sentTo == 0 {
			d.sent.Lock()
			d.sent.unsent++
			d.sent.Unlock()
			return // it never left its origin: not the network's to deliver
		}
		d.sent.Lock()
		d.sent.gossip[id] = dn
		d.sent.sentAt[id] = at
		if topic == topicBlocks {
			d.sent.blockIDs = append(d.sent.blockIDs, id)
			d.sent.blocks++
			d.sent.blockBytes += int64(len(data))
		} else {
			d.sent.txs++
		}
		d.sent.Unlock()
	}
	every := func(interval time.Duration, f func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(interval)
			defer t.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					f(i)
				}
			}
		}()
	}
	// Blocks: proposers take turns. The body is random bytes made once;
	// each block differs in its first bytes (its number), and gossip IDs
	// differ anyway by the origin's nonce.
	body := make([]byte, d.o.blockSize)
	rand.Read(body)
	every(d.o.blockInterval, func(i int) {
		b := slices.Clone(body)
		binary.LittleEndian.PutUint64(b[:min(8, len(b))], uint64(i))
		gossip(d.nodes[i%len(d.nodes)], topicBlocks, b)
	})
	// Transactions from random nodes.
	every(time.Duration(float64(time.Second)/d.o.txRate), func(int) {
		b := make([]byte, d.o.txSize)
		rand.Read(b)
		gossip(d.nodes[mrand.IntN(len(d.nodes))], topicTransactions, b)
	})
	// Votes: each node to a random peer among the nodes.
	for _, dn := range d.nodes {
		every(d.o.voteInterval, func(int) {
			peers := dn.n.Peers()
			var cands []crypto.ID
			for _, p := range peers {
				if d.ids[p.ID] != nil {
					cands = append(cands, p.ID)
				}
			}
			if len(cands) == 0 {
				return
			}
			v := make([]byte, voteSize)
			v[0] = voteRequest
			binary.LittleEndian.PutUint64(v[1:9], uint64(d.since()))
			err := dn.n.TrySend(cands[mrand.IntN(len(cands))], topicConsensus, v)
			d.sent.Lock()
			if err != nil {
				d.sent.voteErrors++
			} else {
				d.sent.votes++
			}
			d.sent.Unlock()
		})
	}
	wg.Wait()
}

// missing counts, over all nodes, gossip messages not yet delivered, and
// deliveries beyond the first.
func (d *demo) missing() (missing, dups, delivered int) {
	d.sent.Lock()
	ids := make(map[p2p.MessageID]*demoNode, len(d.sent.gossip))
	for id, origin := range d.sent.gossip {
		ids[id] = origin
	}
	d.sent.Unlock()
	for _, dn := range d.nodes {
		dn.mu.Lock()
		for id, origin := range ids {
			if origin == dn {
				continue
			}
			switch c := dn.got[id]; {
			case c == 0:
				missing++
			case c > 1:
				dups += c - 1
				delivered++
			default:
				delivered++
			}
		}
		for id, c := range dn.got { // delivered copies of its own messages
			if ids[id] == dn {
				dups += c
			}
		}
		dn.mu.Unlock()
	}
	return missing, dups, delivered
}

// settleEvery is how often settle counts the deliveries still missing.
const settleEvery = 20 * time.Millisecond

// settle waits for the last gossip to reach every node, as long as
// deliveries keep arriving: it gives up once -settle-timeout passes
// without one. On a machine too busy to carry the traffic at its pace,
// gossip arrives late but arrives; the check is that it arrives, and a
// network that stops delivering fails it.
func (d *demo) settle(ctx context.Context) {
	d.setPhase("settling")
	clk := clock.Real()
	t := clk.NewTicker(settleEvery)
	defer t.Stop()
	settleWait(ctx, clk, t, d.o.settleTimeout, func() int { m, _, _ := d.missing(); return m })
}

// settleWait calls missing on every tick of t until it returns 0 (true),
// window passes on clk without it falling (false), or ctx ends (false).
func settleWait(ctx context.Context, clk clock.Clock, t clock.Ticker, window time.Duration, missing func() int) bool {
	last, progress := missing(), clk.Now()
	for last > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-t.C():
		}
		if m := missing(); m < last {
			last, progress = m, clk.Now()
		}
		if last > 0 && clk.Now().Sub(progress) >= window {
			return false
		}
	}
	return true
}
