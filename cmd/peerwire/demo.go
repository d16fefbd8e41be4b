package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
	"github.com/peerwire/peerwire/proto/pb"
)

// demoOptions are the flags of "peerwire demo".
type demoOptions struct {
	nodes           int
	outbound        int
	duration        time.Duration
	blockSize       int
	blockInterval   time.Duration
	txRate          float64
	txSize          int
	voteInterval    time.Duration
	maxP99          time.Duration
	convergeTimeout time.Duration
	settleTimeout   time.Duration
	refresh         time.Duration
	plain           bool
}

// Vote messages on the consensus topic: a request carries the sender's
// clock, the answer echoes it, and the sender measures the round trip.
const (
	voteRequest byte = 1
	voteAnswer  byte = 2
	voteSize         = 128 // bytes, about a signed vote
	// gossipSendTimeout bounds how long an origin waits for queue room.
	gossipSendTimeout = 5 * time.Second
	demoNetwork       = "peerwire-demo"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	o := &demoOptions{}
	fs.IntVar(&o.nodes, "nodes", 8, "nodes besides the seed (2-64); each knows only the seed at start")
	fs.IntVar(&o.outbound, "outbound", 2, "outbound peers each node looks for")
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "how long transactions, blocks and votes flow")
	fs.IntVar(&o.blockSize, "block-size", 1<<20, "bytes per gossiped block (at most 4 MiB)")
	fs.DurationVar(&o.blockInterval, "block-interval", 500*time.Millisecond, "time between blocks (proposers take turns)")
	fs.Float64Var(&o.txRate, "tx-rate", 100, "transactions gossiped per second across the network")
	fs.IntVar(&o.txSize, "tx-size", 250, "bytes per transaction")
	fs.DurationVar(&o.voteInterval, "vote-interval", 50*time.Millisecond, "time between two votes of one node (each to a random peer, answered)")
	fs.DurationVar(&o.maxP99, "max-p99", 50*time.Millisecond, "the 99th percentile of vote round trips must stay below this")
	fs.DurationVar(&o.convergeTimeout, "converge-timeout", 20*time.Second, "how long discovery may take")
	fs.DurationVar(&o.settleTimeout, "settle-timeout", 10*time.Second, "how long to wait for the last gossip to arrive after traffic stops")
	fs.DurationVar(&o.refresh, "refresh", time.Second, "table refresh interval")
	fs.BoolVar(&o.plain, "plain", false, "print plain lines even on a terminal")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case o.nodes < 2 || o.nodes > 64:
		return flagError("nodes", "%d: want 2-64", o.nodes)
	case o.outbound < 1 || o.outbound > 32:
		return flagError("outbound", "%d: want 1-32", o.outbound)
	case o.duration <= 0:
		return flagError("duration", "%v: must be positive", o.duration)
	case o.blockSize < 1 || o.blockSize > 4<<20:
		return flagError("block-size", "%d: want 1-%d", o.blockSize, 4<<20)
	case o.blockInterval <= 0:
		return flagError("block-interval", "%v: must be positive", o.blockInterval)
	case o.txRate <= 0 || o.txRate > 10000:
		return flagError("tx-rate", "%v: want (0, 10000]", o.txRate)
	case o.txSize < 1 || o.txSize > 64<<10:
		return flagError("tx-size", "%d: want 1-%d", o.txSize, 64<<10)
	case o.voteInterval < time.Millisecond:
		return flagError("vote-interval", "%v: want at least 1ms", o.voteInterval)
	case o.maxP99 <= 0:
		return flagError("max-p99", "%v: must be positive", o.maxP99)
	case o.convergeTimeout <= 0:
		return flagError("converge-timeout", "%v: must be positive", o.convergeTimeout)
	case o.settleTimeout <= 0:
		return flagError("settle-timeout", "%v: must be positive", o.settleTimeout)
	case o.refresh < 50*time.Millisecond:
		return flagError("refresh", "%v: want at least 50ms", o.refresh)
	}
	tty := !o.plain && isTerminal(stdout)
	d := &demo{o: o, out: stdout, tty: tty, start: time.Now()}
	return d.run(ctx)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// demo is one run of the demo network.
type demo struct {
	o     *demoOptions
	out   io.Writer
	tty   bool
	start time.Time

	seed  *demoNode
	nodes []*demoNode // without the seed
	ids   map[crypto.ID]*demoNode

	phase struct {
		sync.Mutex
		name string
	}
	sent struct {
		sync.Mutex // guards the fields below
		gossip     map[p2p.MessageID]*demoNode
		blocks     int
		txs        int
		blockBytes int64
		votes      int
		voteErrors int
		// unsent counts gossip messages no peer accepted from their origin.
		unsent int
		// drops lists disconnections between nodes after discovery.
		drops []string
		// seedReleases counts seed connections the demo closed.
		seedReleases int
	}
	readers sync.WaitGroup
}

// demoNode is one node and what its inbox readers counted.
type demoNode struct {
	name string
	n    *p2p.Node

	mu       sync.Mutex // guards the fields below
	got      map[p2p.MessageID]int
	rtts     []time.Duration
	received [4]int // deliveries per topic
}

func (dn *demoNode) record(m *p2p.Message) {
	dn.mu.Lock()
	if int(m.Topic) < len(dn.received) {
		dn.received[m.Topic]++
	}
	if m.Gossip {
		dn.got[m.ID]++
	}
	dn.mu.Unlock()
}

func (d *demo) setPhase(name string) {
	d.phase.Lock()
	d.phase.name = name
	d.phase.Unlock()
}

func (d *demo) since() time.Duration { return time.Since(d.start) }

// nodeConfig is a node tuned for a network on one loopback host: loopback
// is exempt from the per-IP caps and network groups, and the services run
// fast so discovery takes seconds.
func (d *demo) nodeConfig(id *crypto.Identity, role pb.NodeRole) p2p.Config {
	return p2p.Config{
		Identity: id, ListenAddr: "127.0.0.1:0", NetworkID: demoNetwork, ChainID: "demo-1", Role: role,
		SoftwareVersion: softwareVersion, Topics: defaultTopics(),
		Peers: peerset.Config{
			MaxOutboundPerGroup: -1, MaxOutbound: d.o.outbound, MaxInbound: d.o.nodes + 4,
			RedialBase: 100 * time.Millisecond, RedialMax: time.Second,
		},
		Filter:            filter.Config{ExemptLoopback: true},
		Book:              peerbook.Config{AllowLoopback: true, BackoffBase: 100 * time.Millisecond, BackoffCap: time.Second},
		FillInterval:      100 * time.Millisecond,
		PexInterval:       200 * time.Millisecond,
		PexAnswerInterval: 100 * time.Millisecond,
		MaintainInterval:  100 * time.Millisecond,
		PingInterval:      2 * time.Second, // peers refuse more than one ping per second (burst 10)
		ChurnInterval:     -1,
		StatusInterval:    -1,
	}
}

func (d *demo) newNode(name string, cfg p2p.Config) (*demoNode, error) {
	n, err := p2p.New(cfg)
	if err != nil {
		return nil, err
	}
	return &demoNode{name: name, n: n, got: map[p2p.MessageID]int{}}, nil
}

func (d *demo) run(ctx context.Context) error {
	d.sent.gossip = map[p2p.MessageID]*demoNode{}
	d.ids = map[crypto.ID]*demoNode{}
	defer d.stopAll()
	if err := d.startNetwork(ctx); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "peerwire demo: a seed and %d nodes on 127.0.0.1; each node knows only the seed (%s)\n",
		d.o.nodes, d.seed.n.ListenAddr())

	// Live table until the summary.
	tableCtx, stopTable := context.WithCancel(ctx)
	tableDone := make(chan struct{})
	go func() { defer close(tableDone); d.liveTable(tableCtx) }()
	stop := func() { stopTable(); <-tableDone }

	res := d.discover(ctx)
	if ctx.Err() != nil {
		stop()
		return errors.New("interrupted")
	}
	d.traffic(ctx)
	d.settle(ctx)
	stop()
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	d.printTable(false)
	return d.summary(res)
}

// startNetwork starts the seed and the nodes, and their inbox readers.
func (d *demo) startNetwork(ctx context.Context) error {
	seedID, err := crypto.GenerateIdentity(nil)
	if err != nil {
		return err
	}
	cfg := d.nodeConfig(seedID, pb.NodeRole_NODE_ROLE_SEED)
	cfg.SeedMode = true
	if d.seed, err = d.newNode("seed", cfg); err != nil {
		return err
	}
	if err := d.seed.n.Start(ctx); err != nil {
		d.seed = nil
		return err
	}
	d.startReaders(d.seed)
	// Every node exists (and d.ids is complete, read-only from here on)
	// before the first one starts. Stop also ends a node never started.
	for i := range d.o.nodes {
		id, err := crypto.GenerateIdentity(nil)
		if err != nil {
			return err
		}
		cfg := d.nodeConfig(id, pb.NodeRole_NODE_ROLE_VALIDATOR)
		cfg.Bootstrap = []string{d.seed.n.ListenAddr().String()}
		dn, err := d.newNode(fmt.Sprintf("n%d", i+1), cfg)
		if err != nil {
			return err
		}
		d.nodes = append(d.nodes, dn)
		d.ids[dn.n.ID()] = dn
	}
	for _, dn := range d.nodes {
		if err := dn.n.Start(ctx); err != nil {
			return err
		}
		d.startReaders(dn)
		d.watchEvents(dn)
	}
	return nil
}

// startReaders reads each of dn's inboxes on its own goroutine until the
// node stops: gossip is counted by message ID, votes are answered and
// answers turned into round trips.
func (d *demo) startReaders(dn *demoNode) {
	for _, t := range defaultTopics() {
		d.readers.Add(1)
		go func() {
			defer d.readers.Done()
			for m := range dn.n.Inbox(t.ID) {
				dn.record(m)
				if t.ID == topicConsensus && !m.Gossip && len(m.Data) >= 9 {
					d.onVote(dn, m)
				}
			}
		}()
	}
}

func (d *demo) onVote(dn *demoNode, m *p2p.Message) {
	switch m.Data[0] {
	case voteRequest:
		ans := append([]byte(nil), m.Data...)
		ans[0] = voteAnswer
		// The answer goes out at once or not at all: a reader never blocks.
		if err := dn.n.TrySend(m.From, topicConsensus, ans); err != nil {
			d.sent.Lock()
			d.sent.voteErrors++
			d.sent.Unlock()
		}
	case voteAnswer:
		sentAt := time.Duration(binary.LittleEndian.Uint64(m.Data[1:9]))
		rtt := d.since() - sentAt
		dn.mu.Lock()
		dn.rtts = append(dn.rtts, rtt)
		dn.mu.Unlock()
	}
}

// discovery is what the discovery phase found.
type discovery struct {
	converged bool
	took      time.Duration
	connected bool // the nodes' graph is connected
	detail    string
}

// converged reports whether every node has its outbound target among the
// other nodes (the seed does not count) or is connected to all of them,
// and whether the graph of nodes is connected.
func (d *demo) converged() (all, connected bool, lagging string) {
	adj := map[*demoNode][]*demoNode{}
	all = true
	for _, dn := range d.nodes {
		out, total := 0, 0
		for _, p := range dn.n.Peers() {
			other := d.ids[p.ID]
			if other == nil {
				continue // the seed
			}
			total++
			if p.Direction == "outbound" {
				out++
			}
			adj[dn] = append(adj[dn], other)
			adj[other] = append(adj[other], dn)
		}
		if out < d.o.outbound && total < len(d.nodes)-1 {
			all = false
			if lagging == "" {
				lagging = fmt.Sprintf("%s has %d outbound of %d wanted and %d of %d others", dn.name, out, d.o.outbound, total, len(d.nodes)-1)
			}
		}
	}
	seen := map[*demoNode]bool{d.nodes[0]: true}
	queue := []*demoNode{d.nodes[0]}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, y := range adj[x] {
			if !seen[y] {
				seen[y] = true
				queue = append(queue, y)
			}
		}
	}
	return all, len(seen) == len(d.nodes), lagging
}

// releaseSeed disconnects a node from the seed once its outbound slots are
// full and its book knows enough other nodes to fill them: a node that
// filled its slots before asking the seed for addresses keeps the seed in
// an outbound slot (the seed drops inbound peers only after answering a PEX
// request), so the slot would never go to a real peer.
func (d *demo) releaseSeed() {
	seedID := d.seed.n.ID()
	for _, dn := range d.nodes {
		p, ok := dn.n.Peer(seedID)
		if !ok || p.Direction != "outbound" {
			continue
		}
		st := dn.n.Stats()
		if st.Outbound >= d.o.outbound && st.BookSize > d.o.outbound {
			_ = dn.n.Disconnect(seedID, "demo: addresses learned, outbound slot freed")
			d.sent.Lock()
			d.sent.seedReleases++
			d.sent.Unlock()
		}
	}
}

func (d *demo) discover(ctx context.Context) discovery {
	d.setPhase("discovery")
	t0 := time.Now()
	deadline := time.NewTimer(d.o.convergeTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		d.releaseSeed()
		all, connected, lagging := d.converged()
		if all && connected {
			return discovery{converged: true, connected: true, took: time.Since(t0)}
		}
		select {
		case <-ctx.Done():
			return discovery{}
		case <-deadline.C:
			return discovery{converged: all, connected: connected, took: time.Since(t0), detail: lagging}
		case <-tick.C:
		}
	}
}

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
		if topic == topicBlocks {
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

// settle waits for the last gossip to reach every node.
func (d *demo) settle(ctx context.Context) {
	d.setPhase("settling")
	deadline := time.Now().Add(d.o.settleTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if m, _, _ := d.missing(); m == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// percentile returns the q-th quantile (0-1) of sorted samples.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func (d *demo) summary(disc discovery) error {
	var fails []string
	w := d.out
	fmt.Fprintln(w, "\nsummary")

	// Discovery.
	if disc.converged && disc.connected {
		d.sent.Lock()
		released := d.sent.seedReleases
		d.sent.Unlock()
		fmt.Fprintf(w, "  discovery  OK    converged in %v: every node has %d outbound peers or all %d others, and the %d nodes form one connected graph (%d seed connections holding an outbound slot closed by the demo)\n",
			disc.took.Round(10*time.Millisecond), d.o.outbound, len(d.nodes)-1, len(d.nodes), released)
	} else {
		why := disc.detail
		if !disc.connected {
			why = "the nodes' graph is not connected; " + why
		}
		fmt.Fprintf(w, "  discovery  FAIL  not converged after %v: %s\n", d.o.convergeTimeout, why)
		fails = append(fails, "discovery")
	}

	// Gossip.
	missing, dups, delivered := d.missing()
	d.sent.Lock()
	blocks, txs, blockBytes, votes, voteErrs := d.sent.blocks, d.sent.txs, d.sent.blockBytes, d.sent.votes, d.sent.voteErrors
	unsent := d.sent.unsent
	d.sent.Unlock()
	var dupCopies, received uint64
	for _, dn := range d.nodes {
		st := dn.n.Stats()
		dupCopies += st.GossipDuplicates
		received += st.GossipReceived
	}
	ratio := 0.0
	if received > 0 {
		ratio = float64(dupCopies) / float64(received)
	}
	switch {
	case blocks+txs == 0:
		fmt.Fprintln(w, "  gossip     FAIL  nothing was gossiped")
		fails = append(fails, "gossip")
	case unsent > 0:
		fmt.Fprintf(w, "  gossip     FAIL  %d gossip messages could not leave their origin within %v (send queues full)\n", unsent, gossipSendTimeout)
		fails = append(fails, "gossip")
		d.explainMissing()
	case missing == 0 && dups == 0:
		fmt.Fprintf(w, "  gossip     OK    %d blocks (%.0f MiB) and %d transactions each reached every one of the %d other nodes exactly once (%d deliveries); %.0f%% of received copies were duplicates, dropped\n",
			blocks, float64(blockBytes)/(1<<20), txs, len(d.nodes)-1, delivered, 100*ratio)
	default:
		fmt.Fprintf(w, "  gossip     FAIL  %d blocks and %d transactions: %d deliveries missing, %d duplicate deliveries (of %d expected)\n",
			blocks, txs, missing, dups, (blocks+txs)*(len(d.nodes)-1))
		fails = append(fails, "gossip")
		d.explainMissing()
	}

	// Consensus round trips.
	var rtts []time.Duration
	for _, dn := range d.nodes {
		dn.mu.Lock()
		rtts = append(rtts, dn.rtts...)
		dn.mu.Unlock()
	}
	slices.Sort(rtts)
	p50, p99 := percentile(rtts, 0.50), percentile(rtts, 0.99)
	lost := ""
	if voteErrs > 0 {
		lost = fmt.Sprintf(", %d sends refused by a full queue", voteErrs)
	}
	switch {
	case len(rtts) == 0:
		fmt.Fprintf(w, "  consensus  FAIL  no vote round trip completed (%d votes sent%s)\n", votes, lost)
		fails = append(fails, "consensus")
	case p99 < d.o.maxP99:
		fmt.Fprintf(w, "  consensus  OK    %d vote round trips while %.0f MiB of blocks streamed: p50 %v, p99 %v, max %v (bound: p99 < %v)%s\n",
			len(rtts), float64(blockBytes)/(1<<20), roundDur(p50), roundDur(p99), roundDur(rtts[len(rtts)-1]), d.o.maxP99, lost)
	default:
		fmt.Fprintf(w, "  consensus  FAIL  %d vote round trips while blocks streamed: p50 %v, p99 %v exceeds the bound %v%s\n",
			len(rtts), roundDur(p50), roundDur(p99), d.o.maxP99, lost)
		fails = append(fails, "consensus")
	}
	if len(fails) > 0 {
		fmt.Fprintln(w, "demo FAILED")
		return fmt.Errorf("checks failed: %v", fails)
	}
	fmt.Fprintf(w, "demo OK (%v)\n", d.since().Round(100*time.Millisecond))
	return nil
}

func roundDur(x time.Duration) time.Duration {
	switch {
	case x >= 10*time.Millisecond:
		return x.Round(100 * time.Microsecond)
	case x >= time.Millisecond:
		return x.Round(10 * time.Microsecond)
	}
	return x.Round(time.Microsecond)
}

// stopAll stops every node concurrently and waits for the readers.
func (d *demo) stopAll() {
	all := append([]*demoNode{}, d.nodes...)
	if d.seed != nil {
		all = append(all, d.seed)
	}
	var wg sync.WaitGroup
	for _, dn := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = dn.n.Stop(ctx)
		}()
	}
	wg.Wait()
	d.readers.Wait()
}

// explainMissing prints, per node, what it lacks and what its node counted
// as lost, to help find why gossip did not arrive.
func (d *demo) explainMissing() {
	d.sent.Lock()
	ids := make(map[p2p.MessageID]*demoNode, len(d.sent.gossip))
	for id, origin := range d.sent.gossip {
		ids[id] = origin
	}
	d.sent.Unlock()
	d.sent.Lock()
	for _, drop := range d.sent.drops {
		fmt.Fprintf(d.out, "             link closed at %s\n", drop)
	}
	d.sent.Unlock()
	for _, dn := range d.nodes {
		missing := 0
		dn.mu.Lock()
		for id, origin := range ids {
			if origin != dn && dn.got[id] == 0 {
				missing++
			}
		}
		dn.mu.Unlock()
		st := dn.n.Stats()
		var unsent uint64
		for _, p := range dn.n.Peers() {
			unsent += p.Conn.Unsent
		}
		fmt.Fprintf(d.out, "             %s: %d missing; forward copies dropped on full queues: %d; messages lost with closed connections: %d\n",
			dn.name, missing, st.GossipForwardDropped, unsent)
		for _, p := range dn.n.Peers() {
			for _, t := range p.Conn.Topics {
				if t.SendQueue > 0 || t.RecvHeld > 0 {
					fmt.Fprintf(d.out, "               %s %s %s: queue %d credit %d stalls %d held %d; inflight %d/%d waits %d ackrtt %v\n",
						p.Direction, p.ID.Short(), t.Name, t.SendQueue, t.SendCredit, t.CreditStalls, t.RecvHeld,
						p.Conn.InFlight, p.Conn.InFlightCap, p.Conn.InFlightWaits, p.Conn.AckRTT)
				}
			}
		}
	}
}

// watchEvents records disconnections between two nodes (not the seed)
// after discovery: a link that closes loses the gossip queued on it.
func (d *demo) watchEvents(dn *demoNode) {
	sub := dn.n.Subscribe()
	d.readers.Add(1)
	go func() {
		defer d.readers.Done()
		for ev := range sub.C {
			if ev.Kind != p2p.EventDisconnected {
				continue
			}
			d.phase.Lock()
			phase := d.phase.name
			d.phase.Unlock()
			d.sent.Lock()
			other := d.ids[ev.Peer]
			if other != nil && phase != "discovery" {
				d.sent.drops = append(d.sent.drops, fmt.Sprintf("%.1fs %s-%s (%s): %s", d.since().Seconds(), dn.name, other.name, ev.Direction, ev.Reason))
			}
			d.sent.Unlock()
		}
	}()
}
