package main

import (
	"encoding/json"
	"io"
	"slices"
	"time"

	"github.com/peerwire/peerwire/p2p"
)

// demoResults is what one demo run measured: the checks' verdicts and the
// figures behind them. Its JSON form (peerwire demo -json) is for scripts;
// the field names are stable. Durations are in milliseconds.
type demoResults struct {
	OK      bool     `json:"ok"`
	Failed  []string `json:"failed"` // names of the failed checks: discovery, gossip, consensus
	Nodes   int      `json:"nodes"`  // without the seed
	Seconds float64  `json:"seconds"`

	Discovery struct {
		OK        bool    `json:"ok"`
		Connected bool    `json:"connected"` // the nodes form one connected graph
		Ms        float64 `json:"ms"`
		Outbound  int     `json:"outbound"` // outbound peers each node looks for
		Detail    string  `json:"detail,omitempty"`
		// SeedReleases counts seed connections the demo closed to free an
		// outbound slot.
		SeedReleases int `json:"seed_releases"`
	} `json:"discovery"`

	Gossip struct {
		OK           bool  `json:"ok"`
		Blocks       int   `json:"blocks"`
		Transactions int   `json:"transactions"`
		BlockBytes   int64 `json:"block_bytes"`
		// Deliveries counts first deliveries to a node other than the origin;
		// Missing those expected and absent; Duplicates deliveries beyond the
		// first (the application must never see one).
		Deliveries int `json:"deliveries"`
		Missing    int `json:"missing"`
		Duplicates int `json:"duplicates"`
		Unsent     int `json:"unsent"` // messages no peer accepted from their origin
		// CopiesReceived counts gossip copies that arrived at nodes, and
		// DuplicateShare the share of them dropped as already seen.
		CopiesReceived uint64  `json:"copies_received"`
		DuplicateShare float64 `json:"duplicate_share"`
		// BlockGossip is -block-gossip; BlockTopicBytes the bytes all nodes
		// received on the blocks topic (headers, chunks, pulls and their
		// answers, or flooded copies), and BlockBytesPerNode that divided
		// by the block bytes each node other than the origin needed: 1.0
		// is every block crossing one link per node.
		BlockGossip       string  `json:"block_gossip"`
		BlockTopicBytes   uint64  `json:"block_topic_bytes"`
		BlockBytesPerNode float64 `json:"block_bytes_per_node"`
	} `json:"gossip"`

	// BlockPropagation is the time from a block's proposal until every
	// other node had it, over the blocks that reached every node.
	BlockPropagation struct {
		Blocks int     `json:"blocks"`
		P50Ms  float64 `json:"p50_ms"`
		P99Ms  float64 `json:"p99_ms"`
		MaxMs  float64 `json:"max_ms"`
		// FirstHopP50Ms is the median time until the first other node had
		// a block: about one link's transfer of it.
		FirstHopP50Ms float64 `json:"first_hop_p50_ms"`
	} `json:"block_propagation"`

	Consensus struct {
		OK         bool    `json:"ok"`
		RoundTrips int     `json:"round_trips"`
		Sent       int     `json:"sent"`
		Refused    int     `json:"refused"` // sends refused by a full queue
		P50Ms      float64 `json:"p50_ms"`
		P99Ms      float64 `json:"p99_ms"`
		MaxMs      float64 `json:"max_ms"`
		BoundMs    float64 `json:"bound_ms"` // the p99 must stay below this
		// MaxP99Ms is -max-p99; SchedP99Ms the p99 of how late a sleeping
		// goroutine woke during the traffic (the scheduling delay);
		// BoundMs is MaxP99Ms + SchedWakeups × SchedP99Ms.
		MaxP99Ms     float64 `json:"max_p99_ms"`
		SchedP99Ms   float64 `json:"sched_p99_ms"`
		SchedSamples int     `json:"sched_samples"`
		SchedWakeups int     `json:"sched_wakeups"`
	} `json:"consensus"`

	rtts       []time.Duration   // sorted vote round trips
	blockDelay [][]time.Duration // per block, sorted delays until each other node had it
	disc       discovery
	sched      time.Duration // the scheduling delay's p99
	bound      time.Duration // the vote p99 bound
}

func ms(x time.Duration) float64 { return float64(x) / float64(time.Millisecond) }

// results computes the checks' verdicts and figures.
func (d *demo) results(disc discovery) *demoResults {
	r := &demoResults{Nodes: len(d.nodes), disc: disc}
	r.Discovery.OK = disc.converged && disc.connected
	r.Discovery.Connected = disc.connected
	r.Discovery.Ms = ms(disc.took)
	r.Discovery.Outbound = d.o.outbound
	r.Discovery.Detail = disc.detail
	if !r.Discovery.OK {
		r.Failed = append(r.Failed, "discovery")
	}

	g := &r.Gossip
	g.Missing, g.Duplicates, g.Deliveries = d.missing()
	d.sent.Lock()
	g.Blocks, g.Transactions, g.BlockBytes = d.sent.blocks, d.sent.txs, d.sent.blockBytes
	g.Unsent = d.sent.unsent
	r.Consensus.Sent, r.Consensus.Refused = d.sent.votes, d.sent.voteErrors
	r.Discovery.SeedReleases = d.sent.seedReleases
	blockIDs := slices.Clone(d.sent.blockIDs)
	sentAt := make(map[p2p.MessageID]time.Duration, len(blockIDs))
	origin := make(map[p2p.MessageID]*demoNode, len(blockIDs))
	for _, id := range blockIDs {
		sentAt[id], origin[id] = d.sent.sentAt[id], d.sent.gossip[id]
	}
	d.sent.Unlock()
	var dupCopies uint64
	for _, dn := range d.nodes {
		st := dn.n.Stats()
		dupCopies += st.GossipDuplicates
		g.CopiesReceived += st.GossipReceived
		for _, ts := range st.Topics {
			if ts.ID == topicBlocks {
				g.BlockTopicBytes += ts.BytesIn
			}
		}
	}
	if g.CopiesReceived > 0 {
		g.DuplicateShare = float64(dupCopies) / float64(g.CopiesReceived)
	}
	g.BlockGossip = d.o.blockGossip
	if need := g.BlockBytes * int64(len(d.nodes)-1); need > 0 {
		g.BlockBytesPerNode = float64(g.BlockTopicBytes) / float64(need)
	}
	g.OK = g.Blocks+g.Transactions > 0 && g.Unsent == 0 && g.Missing == 0 && g.Duplicates == 0
	if !g.OK {
		r.Failed = append(r.Failed, "gossip")
	}

	// Block propagation: per block, when each other node first had it.
	var full, first []time.Duration
	for _, id := range blockIDs {
		var delays []time.Duration
		for _, dn := range d.nodes {
			if dn == origin[id] {
				continue
			}
			dn.mu.Lock()
			at, ok := dn.firstAt[id]
			dn.mu.Unlock()
			if ok {
				delays = append(delays, max(at-sentAt[id], 0))
			}
		}
		slices.Sort(delays)
		r.blockDelay = append(r.blockDelay, delays)
		if len(delays) > 0 {
			first = append(first, delays[0])
		}
		if len(delays) == len(d.nodes)-1 && len(delays) > 0 {
			full = append(full, delays[len(delays)-1])
		}
	}
	slices.Sort(full)
	slices.Sort(first)
	r.BlockPropagation.FirstHopP50Ms = ms(percentile(first, 0.5))
	if len(full) > 0 {
		bp := &r.BlockPropagation
		bp.Blocks = len(full)
		bp.P50Ms, bp.P99Ms, bp.MaxMs = ms(percentile(full, 0.5)), ms(percentile(full, 0.99)), ms(full[len(full)-1])
	}

	for _, dn := range d.nodes {
		dn.mu.Lock()
		r.rtts = append(r.rtts, dn.rtts...)
		dn.mu.Unlock()
	}
	slices.Sort(r.rtts)
	c := &r.Consensus
	c.RoundTrips = len(r.rtts)
	sched, samples := d.sched.p99()
	r.sched = sched
	r.bound = d.o.maxP99 + time.Duration(d.o.schedWakeups)*sched
	c.MaxP99Ms, c.SchedP99Ms, c.SchedSamples, c.SchedWakeups, c.BoundMs = ms(d.o.maxP99), ms(sched), samples, d.o.schedWakeups, ms(r.bound)
	if len(r.rtts) > 0 {
		c.P50Ms, c.P99Ms, c.MaxMs = ms(percentile(r.rtts, 0.5)), ms(percentile(r.rtts, 0.99)), ms(r.rtts[len(r.rtts)-1])
	}
	c.OK = len(r.rtts) > 0 && percentile(r.rtts, 0.99) < r.bound
	if !c.OK {
		r.Failed = append(r.Failed, "consensus")
	}
	r.OK = len(r.Failed) == 0
	if r.Failed == nil {
		r.Failed = []string{}
	}
	r.Seconds = d.since().Seconds()
	return r
}

// writeJSON writes r as one indented JSON object.
func writeJSON(w io.Writer, r *demoResults) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
