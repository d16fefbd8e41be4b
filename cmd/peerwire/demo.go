package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/peerwire/peerwire/crypto"
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
	blockGossip     string
	blocks          p2p.Dissemination // blockGossip parsed
	txRate          float64
	txSize          int
	voteInterval    time.Duration
	maxP99          time.Duration
	schedWakeups    int
	convergeTimeout time.Duration
	settleTimeout   time.Duration
	refresh         time.Duration
	plain           bool
	report          string
	json            bool
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
	fs.StringVar(&o.blockGossip, "block-gossip", blockGossipChunked, blockGossipUsage)
	fs.Float64Var(&o.txRate, "tx-rate", 100, "transactions gossiped per second across the network")
	fs.IntVar(&o.txSize, "tx-size", 250, "bytes per transaction")
	fs.DurationVar(&o.voteInterval, "vote-interval", 50*time.Millisecond, "time between two votes of one node (each to a random peer, answered)")
	fs.DurationVar(&o.maxP99, "max-p99", 50*time.Millisecond, "the 99th percentile of vote round trips must stay below this plus -sched-wakeups times the machine's measured scheduling delay (p99)")
	fs.IntVar(&o.schedWakeups, "sched-wakeups", voteWakeups, "wake-ups of a vote round trip that may each wait for a busy machine's scheduler (0: the bound is -max-p99 alone)")
	fs.DurationVar(&o.convergeTimeout, "converge-timeout", 20*time.Second, "how long discovery may take")
	fs.DurationVar(&o.settleTimeout, "settle-timeout", 10*time.Second, "after traffic stops, how long to wait for the next gossip delivery while some are missing")
	fs.DurationVar(&o.refresh, "refresh", time.Second, "table refresh interval")
	fs.BoolVar(&o.plain, "plain", false, "print plain lines even on a terminal")
	fs.StringVar(&o.report, "report", "", "write an HTML and markdown report with SVG pictures into this directory")
	fs.BoolVar(&o.json, "json", false, "print the summary as one JSON object on stdout (the table and text go to stderr)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var err error
	if o.blocks, err = parseBlockGossip("block-gossip", o.blockGossip); err != nil {
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
	case o.schedWakeups < 0 || o.schedWakeups > 100:
		return flagError("sched-wakeups", "%d: want 0-100", o.schedWakeups)
	case o.convergeTimeout <= 0:
		return flagError("converge-timeout", "%v: must be positive", o.convergeTimeout)
	case o.settleTimeout <= 0:
		return flagError("settle-timeout", "%v: must be positive", o.settleTimeout)
	case o.refresh < 50*time.Millisecond:
		return flagError("refresh", "%v: want at least 50ms", o.refresh)
	}
	text := stdout
	if o.json {
		text = stderr
	}
	tty := !o.plain && outputIsTerminal(text)
	d := &demo{o: o, out: &lockedWriter{w: text}, jsonOut: stdout, tty: tty, start: time.Now()}
	return d.run(ctx)
}

// lockedWriter serialises writes: the live table's goroutine and the
// demo's phases print to the same output. Each Fprint is one Write, so a
// line or a table is never split.
type lockedWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// outputIsTerminal is isTerminal; tests replace it to see what a terminal
// would be shown.
var outputIsTerminal = isTerminal

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
	o       *demoOptions
	out     io.Writer
	jsonOut io.Writer
	tty     bool
	start   time.Time

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
		// sentAt is when each gossip message was handed to its origin.
		sentAt map[p2p.MessageID]time.Duration
		// blockIDs lists the blocks in the order they were proposed.
		blockIDs   []p2p.MessageID
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

	// bw holds the bandwidth samples, topology the links after settling.
	bw       bandwidthSamples
	topology []demoLink
	sched    schedProbe
}

// demoNode is one node and what its inbox readers counted.
type demoNode struct {
	name string
	n    *p2p.Node

	mu       sync.Mutex // guards the fields below
	got      map[p2p.MessageID]int
	firstAt  map[p2p.MessageID]time.Duration // first delivery, since the demo's start
	rtts     []time.Duration
	received [4]int // deliveries per topic
}

// record counts a delivery that the inbox reader took at now.
func (dn *demoNode) record(m *p2p.Message, now time.Duration) {
	dn.mu.Lock()
	if int(m.Topic) < len(dn.received) {
		dn.received[m.Topic]++
	}
	if m.Gossip {
		if dn.got[m.ID] == 0 {
			dn.firstAt[m.ID] = now
		}
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
		SoftwareVersion: softwareVersion, Topics: defaultTopics(d.o.blocks),
		Peers: peerset.Config{
			MaxOutbound: d.o.outbound, MaxInbound: d.o.nodes + 4,
			RedialBase: 100 * time.Millisecond, RedialMax: time.Second,
		},
		AllowLoopback:     true, // every demo node is on 127.0.0.1
		Book:              peerbook.Config{BackoffBase: 100 * time.Millisecond, BackoffCap: time.Second},
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
	return &demoNode{name: name, n: n, got: map[p2p.MessageID]int{}, firstAt: map[p2p.MessageID]time.Duration{}}, nil
}

func (d *demo) run(ctx context.Context) error {
	d.sent.gossip = map[p2p.MessageID]*demoNode{}
	d.sent.sentAt = map[p2p.MessageID]time.Duration{}
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
	if !d.tty {
		if res.converged && res.connected {
			fmt.Fprintf(d.out, "[%5.1fs] every node found its peers in %v; traffic starts\n", d.since().Seconds(), res.took.Round(10*time.Millisecond))
		} else {
			fmt.Fprintf(d.out, "[%5.1fs] nodes still looking for peers (%s); traffic starts anyway\n", d.since().Seconds(), res.detail)
		}
		d.printTable(false)
	}
	samplerCtx, stopSampler := context.WithCancel(ctx)
	samplerDone := make(chan struct{}, 2)
	go func() { defer func() { samplerDone <- struct{}{} }(); d.sampleBandwidth(samplerCtx) }()
	go func() { defer func() { samplerDone <- struct{}{} }(); d.sched.run(samplerCtx) }()
	d.traffic(ctx)
	d.settle(ctx)
	stopSampler()
	<-samplerDone
	<-samplerDone
	d.topology = d.links()
	stop()
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	// On a terminal the final table replaces the last live one in place,
	// so it is shown once.
	table := d.tableText()
	if d.tty {
		fmt.Fprint(d.out, ansiHome+ansiClear+table)
	} else {
		fmt.Fprint(d.out, table)
	}
	r := d.results(res)
	var summary strings.Builder
	d.printSummary(&summary, r)
	fmt.Fprint(d.out, summary.String())
	if d.o.report != "" {
		if err := d.writeReport(d.o.report, r, table, summary.String()); err != nil {
			return err
		}
		fmt.Fprintf(d.out, "report written to %s\n", d.o.report)
	}
	if d.o.json {
		if err := writeJSON(d.jsonOut, r); err != nil {
			return err
		}
	}
	if len(r.Failed) > 0 {
		return fmt.Errorf("checks failed: %v", r.Failed)
	}
	return nil
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
	for _, t := range defaultTopics(d.o.blocks) {
		d.readers.Add(1)
		go func() {
			defer d.readers.Done()
			for m := range dn.n.Inbox(t.ID) {
				dn.record(m, d.since())
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
