// Command labnode is the reliability lab's traffic driver: a p2p.Node that
// gossips votes and blocks at a set pace, counts what it receives per
// origin, measures the consensus topic's round-trip time with echo probes,
// and reports it all as JSON on an admin address (GET /stats). It is a test
// tool, not an operator binary; operators run `peerwire node`.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/lab"
	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
)

const (
	topicVotes  = 1
	topicBlocks = 2

	kindVote  = 'v'
	kindBlock = 'b'
	kindProbe = 'P'
	kindEcho  = 'Q'
	hdrLen    = 11 // kind, origin uint16, seq uint64
)

type opts struct {
	name, dataDir, listen, admin string
	bootstrap, must              string
	index                        int
	maxIn, maxOut                int
	ping, idle, redialMax, fill  time.Duration
	backoffCap                   time.Duration
	voteEvery, blockEvery        time.Duration
	voteSize, blockSize          int
	blockCount                   uint64
	blockMode                    string
	readDelay                    time.Duration
	probeEvery                   time.Duration
	allowPrivate                 bool
	logLevel                     string
	network, chain               string
	paused                       bool
}

func main() {
	var o opts
	flag.StringVar(&o.name, "name", "", "lab node name: the identity is derived from it (lab.Identity)")
	flag.StringVar(&o.dataDir, "data-dir", "", "directory for the peer book (and nothing else)")
	flag.StringVar(&o.listen, "listen", "", "listen address host:port")
	flag.StringVar(&o.admin, "admin", "127.0.0.1:7000", "admin HTTP address (inside the host)")
	flag.StringVar(&o.bootstrap, "bootstrap", "", "comma-separated ID@host:port")
	flag.StringVar(&o.must, "must-connect", "", "comma-separated ID@host:port")
	flag.IntVar(&o.index, "index", 0, "origin index written into gossip payloads (0-65535)")
	flag.IntVar(&o.maxIn, "max-inbound", 40, "inbound peer limit")
	flag.IntVar(&o.maxOut, "max-outbound", 6, "outbound peer limit")
	flag.DurationVar(&o.ping, "ping", 2*time.Second, "keepalive ping interval")
	flag.DurationVar(&o.idle, "idle", 10*time.Second, "idle timeout")
	flag.DurationVar(&o.redialMax, "redial-max", 2*time.Second, "must-connect redial backoff cap")
	flag.DurationVar(&o.backoffCap, "backoff-cap", 4*time.Second, "peer book redial backoff cap (base 500ms)")
	flag.DurationVar(&o.fill, "fill", 500*time.Millisecond, "outbound fill interval")
	flag.DurationVar(&o.voteEvery, "vote-every", 0, "gossip a vote this often (0: never)")
	flag.IntVar(&o.voteSize, "vote-size", 200, "vote size in bytes")
	flag.DurationVar(&o.blockEvery, "block-every", 0, "gossip a block this often (0: never)")
	flag.IntVar(&o.blockSize, "block-size", 1<<20, "block size in bytes")
	flag.Uint64Var(&o.blockCount, "block-count", 0, "stop gossiping blocks after this many (0: no limit)")
	flag.StringVar(&o.blockMode, "block-mode", "flood", "the blocks topic's dissemination: flood or chunked (64 KiB chunks, 4 eager peers)")
	flag.DurationVar(&o.readDelay, "read-delay", 0, "a slow reader: pause this long after reading each block from the inbox (0: none)")
	flag.DurationVar(&o.probeEvery, "probe-every", time.Second, "consensus-topic echo probe to every peer this often (0: never)")
	flag.BoolVar(&o.allowPrivate, "allow-private", false, "admit private addresses from PEX")
	flag.StringVar(&o.logLevel, "log-level", "warn", "debug, info, warn or error")
	flag.StringVar(&o.network, "network", "peerwire-lab", "network ID")
	flag.StringVar(&o.chain, "chain", "lab-1", "chain ID")
	flag.BoolVar(&o.paused, "paused", false, "start with gossip generation paused (GET /resume starts it)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "labnode:", err)
		os.Exit(1)
	}
}

// counts is a bitset of received sequence numbers per origin.
type counts struct {
	mu   sync.Mutex
	seen map[uint16][]uint64
	n    map[uint16]uint64
	dups uint64
}

func newCounts() *counts { return &counts{seen: map[uint16][]uint64{}, n: map[uint16]uint64{}} }

func (c *counts) add(origin uint16, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if seq > 1<<24 {
		c.dups++ // out of the lab's range: count as a fault
		return
	}
	bs := c.seen[origin]
	w := int(seq / 64)
	for len(bs) <= w {
		bs = append(bs, 0)
	}
	if bs[w]&(1<<(seq%64)) != 0 {
		c.dups++
	} else {
		bs[w] |= 1 << (seq % 64)
		c.n[origin]++
	}
	c.seen[origin] = bs
}

func (c *counts) snapshot() (map[string]uint64, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.n))
	for k, v := range c.n {
		out[fmt.Sprint(k)] = v
	}
	return out, c.dups
}

type peerRTT struct {
	mu  sync.Mutex
	rtt map[crypto.ID]time.Duration
	max map[crypto.ID]time.Duration
	min map[crypto.ID]time.Duration
}

func run(o opts) error {
	if o.name == "" {
		return fmt.Errorf("-name is required")
	}
	lvl := slog.LevelWarn
	_ = lvl.UnmarshalText([]byte(o.logLevel))
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	blocksTopic := p2p.TopicConfig{TopicConfig: mux.TopicConfig{ID: topicBlocks, Name: "blocks", Priority: 5, MaxMessageSize: 4 << 20}}
	switch o.blockMode {
	case "flood":
	case "chunked":
		// The defaults written out: 64 KiB chunks (a 1 MiB block is 16),
		// blocks of 64 KiB and more go chunked, 4 eager peers.
		blocksTopic.Dissemination = p2p.Chunked
		blocksTopic.Chunked = &p2p.ChunkedConfig{Threshold: p2p.DefaultChunkedThreshold, ChunkSize: p2p.DefaultChunkSize, EagerPeers: p2p.DefaultEagerPeers}
	default:
		return fmt.Errorf("-block-mode %q: want flood or chunked", o.blockMode)
	}
	cfg := p2p.Config{
		Identity:   lab.Identity(o.name),
		DataDir:    o.dataDir,
		ListenAddr: o.listen,
		NetworkID:  o.network,
		ChainID:    o.chain,
		// The topics of `peerwire node`, so the two interoperate (with
		// -block-mode flood).
		Topics: []p2p.TopicConfig{
			{TopicConfig: mux.TopicConfig{ID: topicVotes, Name: "consensus", Priority: 10, MaxMessageSize: 64 << 10}},
			blocksTopic,
			{TopicConfig: mux.TopicConfig{ID: 3, Name: "transactions", Priority: 1, MaxMessageSize: 64 << 10}},
		},
		Bootstrap:   split(o.bootstrap),
		MustConnect: split(o.must),
		Peers: peerset.Config{
			MaxInbound: o.maxIn, MaxOutbound: o.maxOut,
			// Every lab host is in 198.18.0.0/16: one group.
			MaxOutboundPerGroup: -1,
			RedialBase:          100 * time.Millisecond, RedialMax: o.redialMax,
		},
		Filter: filter.Config{MaxPerSubnet: -1},
		// -allow-private is about PEX only (the book), not the filter's
		// caps, unlike Config.AllowPrivate.
		Book:          peerbook.Config{AllowPrivate: o.allowPrivate, BackoffBase: 500 * time.Millisecond, BackoffCap: o.backoffCap},
		PingInterval:  o.ping,
		IdleTimeout:   o.idle,
		FillInterval:  o.fill,
		ChurnInterval: -1,
		SaveInterval:  2 * time.Second,
		Logger:        logger,
	}
	n, err := p2p.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := n.Start(ctx); err != nil {
		return err
	}
	var (
		sentVotes, sentBlocks, disconnects atomic.Uint64
		generating                         atomic.Bool
	)
	generating.Store(!o.paused)
	votes, blocks := newCounts(), newCounts()
	rtts := &peerRTT{rtt: map[crypto.ID]time.Duration{}, max: map[crypto.ID]time.Duration{}, min: map[crypto.ID]time.Duration{}}
	start := time.Now()
	var (
		reasonsMu sync.Mutex
		reasons   []string
	)
	sub := n.Subscribe()
	go func() {
		for e := range sub.C {
			if e.Kind == p2p.EventDisconnected {
				disconnects.Add(1)
				reasonsMu.Lock()
				if len(reasons) < 20 {
					reasons = append(reasons, fmt.Sprintf("%s: %s", e.Peer.String()[:8], e.Reason))
				}
				reasonsMu.Unlock()
			}
		}
	}()

	handle := func(m *p2p.Message, c *counts) {
		if len(m.Data) < hdrLen {
			return
		}
		origin := binary.BigEndian.Uint16(m.Data[1:3])
		seq := binary.BigEndian.Uint64(m.Data[3:11])
		switch m.Data[0] {
		case kindVote, kindBlock:
			if m.Gossip {
				c.add(origin, seq)
			}
		case kindProbe:
			echo := append([]byte{kindEcho}, m.Data[1:hdrLen]...)
			_ = n.TrySend(m.From, topicVotes, echo)
		case kindEcho:
			d := time.Since(start) - time.Duration(seq)
			rtts.mu.Lock()
			rtts.rtt[m.From] = d
			if d > rtts.max[m.From] {
				rtts.max[m.From] = d
			}
			if v, ok := rtts.min[m.From]; !ok || d < v {
				rtts.min[m.From] = d
			}
			rtts.mu.Unlock()
		}
	}
	go func() {
		for m := range n.Inbox(topicVotes) {
			handle(m, votes)
		}
	}()
	go func() {
		for m := range n.Inbox(topicBlocks) {
			handle(m, blocks)
			if o.readDelay > 0 {
				select { // the slow reader this node plays
				case <-time.After(o.readDelay):
				case <-ctx.Done():
				}
			}
		}
	}()
	go func() {
		for range n.Inbox(3) {
		}
	}()
	payload := func(kind byte, size int, seq uint64) []byte {
		if size < hdrLen {
			size = hdrLen
		}
		b := make([]byte, size)
		b[0] = kind
		binary.BigEndian.PutUint16(b[1:3], uint16(o.index))
		binary.BigEndian.PutUint64(b[3:11], seq)
		return b
	}
	gen := func(every time.Duration, kind byte, size, topic int, sent *atomic.Uint64, limit uint64) {
		if every <= 0 {
			return
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if !generating.Load() || len(n.Peers()) == 0 {
				continue
			}
			seq := sent.Load()
			if limit > 0 && seq >= limit {
				return
			}
			gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, _, err := n.Gossip(gctx, uint8(topic), payload(kind, size, seq))
			cancel()
			if err == nil {
				sent.Add(1)
			}
		}
	}
	go gen(o.voteEvery, kindVote, o.voteSize, topicVotes, &sentVotes, 0)
	go gen(o.blockEvery, kindBlock, o.blockSize, topicBlocks, &sentBlocks, o.blockCount)
	if o.probeEvery > 0 {
		go func() {
			t := time.NewTicker(o.probeEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				for _, p := range n.Peers() {
					b := make([]byte, hdrLen)
					b[0] = kindProbe
					binary.BigEndian.PutUint64(b[3:11], uint64(time.Since(start)))
					_ = n.TrySend(p.ID, topicVotes, b)
				}
			}
		}()
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		st := n.Stats()
		var ms runtime.MemStats
		var live uint64
		if r.URL.Query().Get("gc") == "1" {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			live = ms.HeapAlloc >> 10
		} else {
			runtime.ReadMemStats(&ms)
		}
		ck := n.ChunkedStats()
		rep := lab.Report{
			ID: n.ID().String(), Listen: n.ListenAddr().String(), BlockMode: o.blockMode,
			Inbound: st.Inbound, Outbound: st.Outbound, MustConnectUp: st.MustConnectUp, MustTotal: st.MustConnectTotal,
			BookSize: st.BookSize, Bans: st.Bans,
			SentVotes: sentVotes.Load(), SentBlocks: sentBlocks.Load(),
			Goroutines: runtime.NumGoroutine(), HeapAllocKiB: ms.HeapAlloc >> 10, HeapSysKiB: ms.HeapSys >> 10, LiveHeapKiB: live,
			Disconnects: disconnects.Load(), Violations: st.Violations, Malformed: st.Malformed,
			HandshakeFailures: st.HandshakeFailures, Refusals: st.Refusals,
			GossipForwardDropped: st.GossipForwardDropped, Generating: generating.Load(),
			Chunked: ck, BlockPayloadBytes: st.GossipPayloadBytes,
		}
		if o.blockMode == "chunked" {
			rep.BlockPayloadBytes = ck.PayloadBytes
		}
		for _, ts := range st.Topics {
			if ts.ID == topicBlocks {
				rep.BlockWireBytesIn = ts.BytesIn
			}
		}
		reasonsMu.Lock()
		rep.DisconnectReasons = append([]string(nil), reasons...)
		reasonsMu.Unlock()
		var d1, d2 uint64
		rep.RecvVotes, d1 = votes.snapshot()
		rep.RecvBlocks, d2 = blocks.snapshot()
		rep.Dups = d1 + d2
		rtts.mu.Lock()
		for _, p := range n.Peers() {
			rep.Peers = append(rep.Peers, lab.PeerReport{
				ID: p.ID.String(), Direction: p.Direction, Remote: p.Remote, MustConnect: p.MustConnect,
				PingRTTms: ms2(p.RTT.Smoothed), AppRTTms: ms2(rtts.rtt[p.ID]), AppRTTMaxms: ms2(rtts.max[p.ID]),
				AppRTTMinms: ms2(rtts.min[p.ID]), AppRTTSamples: rtts.min[p.ID] > 0, Score: p.Score,
			})
		}
		rtts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rep)
	})
	mux.HandleFunc("/book", func(w http.ResponseWriter, r *http.Request) {
		var out []string
		for _, e := range n.BookEntries() {
			out = append(out, e.Addr.String())
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("/pause", func(w http.ResponseWriter, r *http.Request) {
		generating.Store(false)
		fmt.Fprintln(w, "paused")
	})
	mux.HandleFunc("/resume", func(w http.ResponseWriter, r *http.Request) {
		generating.Store(true)
		fmt.Fprintln(w, "generating")
	})
	mux.HandleFunc("/resetrtt", func(w http.ResponseWriter, r *http.Request) {
		rtts.mu.Lock()
		clear(rtts.max)
		clear(rtts.min)
		rtts.mu.Unlock()
		fmt.Fprintln(w, "ok")
	})
	ln, err := net.Listen("tcp", o.admin)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	fmt.Printf("labnode %s id=%s listen=%s admin=%s\n", o.name, n.ID(), n.ListenAddr(), ln.Addr())
	<-ctx.Done()
	srv.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return n.Stop(sctx)
}

func ms2(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
