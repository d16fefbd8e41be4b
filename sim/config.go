package sim

import (
	"fmt"
	"time"

	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
)

// Config is one simulated scenario. Zero fields take the defaults of
// DefaultConfig's comments; Run validates it.
type Config struct {
	// Seed makes the run: the same Config gives the same Result.
	Seed uint64
	// Nodes is the number of honest nodes.
	Nodes int
	// Groups is the number of /16 networks honest nodes live in (default
	// Nodes/4); a node's /16 is drawn from a Zipf law of exponent ZipfS
	// (default 1.1) over them, so a few hosting providers hold many nodes.
	Groups int
	ZipfS  float64
	// UniformGroups puts honest node i in group i mod Groups instead (the
	// lab's layout, for calibration).
	UniformGroups bool
	// NATShare is the share of honest nodes behind NAT: they dial out but
	// never accept inbound and advertise no address (default 0.5; use a
	// negative value for none).
	NATShare float64
	// ChurnShare is the share of honest nodes with sessions: online for an
	// exponential time of mean SessionMean, then offline (a restart with the
	// book kept, as loaded from disk) for a mean OfflineMean.
	ChurnShare  float64
	SessionMean time.Duration
	OfflineMean time.Duration
	// Validators is the size of the must-connect validator set: each
	// validator lists all others as must-connect peers.
	Validators int
	// Bootstrap is the size of the bootstrap list, stable listening nodes
	// every node starts from (default 8).
	Bootstrap int
	// PlainBootstrap runs the bootstrap nodes as ordinary nodes instead of
	// in p2p's seed mode (crawl, answer, disconnect).
	PlainBootstrap bool
	// Duration is the virtual time simulated (default 20 min); nodes join
	// uniformly within JoinSpread (default 1 min).
	Duration   time.Duration
	JoinSpread time.Duration
	// Monitored is the number of honest victims with full-size books (the
	// defaults of peerbook), which the attacker targets; the others use
	// books of ScaledBucketSize slots per bucket (default 4, the default
	// bucket counts), unless FullBooks is set.
	Monitored        int
	FullBooks        bool
	ScaledBucketSize int
	// LatencyMedian and LatencySigma shape the one-way latency between
	// two nodes: each node draws a log-normal access delay (median
	// LatencyMedian/2, log-sd LatencySigma) and a path costs the sum
	// (defaults 40 ms and 0.6).
	LatencyMedian time.Duration
	LatencySigma  float64
	// DialTimeout is how long a dial to an address nobody answers takes to
	// fail (default 3 s, the lab's ARP timeout).
	DialTimeout time.Duration
	// The node's service intervals (p2p's defaults, except Maintain: 10 s
	// instead of 1 s to save events; it only decays scores and trims).
	FillInterval      time.Duration
	PexInterval       time.Duration
	PexAnswerInterval time.Duration
	MaintainInterval  time.Duration
	ProbeInterval     time.Duration
	// MaxOutbound and MaxInbound are the peer set's slot limits
	// (peerset defaults 10 and 40).
	MaxOutbound int
	MaxInbound  int
	// SampleEvery is the period of the outcome samples (default 30 s).
	SampleEvery time.Duration
	// GossipOrigins is the number of gossip messages flooded from random
	// honest nodes at the end (default 20).
	GossipOrigins int
	// Attack is the adversary; the zero value is none.
	Attack Attack
	// DHT runs the real discovery/dht on every honest node (a server if
	// it listens, a client behind NAT), its findings feeding the book, and
	// makes every attacker identity a DHT server that answers with its own
	// records (sim/dht.go). Off by default: signed records and lookups
	// make a run several times slower.
	DHT bool
}

// Attack describes the adversary. Its budget is Groups × IPsPerGroup
// addresses, each hosting IDsPerIP identities (free Sybil IDs).
type Attack struct {
	Name string
	// Groups is the number of distinct /16s the attacker holds; 0 means no
	// attacker.
	Groups      int
	IPsPerGroup int
	IDsPerIP    int
	// PexPoison makes every attacker identity answer PEX requests with
	// MaxPexAddrs attacker addresses; PoisonFake makes them addresses in the
	// attacker's /16s where nobody listens (the lab's poisoner).
	PexPoison  bool
	PoisonFake bool
	// InboundPerVictim is the number of inbound connections the attacker
	// tries to hold to each victim (inbound-slot occupation); attacker
	// identities also advertise their address on those connections.
	InboundPerVictim int
	// RestartAt, if set, restarts every victim at that time (book kept,
	// peers lost): the restart-time attack measures the victims after it.
	RestartAt time.Duration
	// BootstrapShare replaces that share of the bootstrap list with
	// attacker addresses (the poisoned bootstrap list).
	BootstrapShare float64
}

func (c Config) withDefaults() (Config, error) {
	def := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	if c.Nodes <= 0 {
		return c, fmt.Errorf("sim: Config.Nodes: %d, want > 0", c.Nodes)
	}
	if c.Groups == 0 {
		c.Groups = max(16, c.Nodes/4)
	}
	if c.ZipfS == 0 {
		c.ZipfS = 1.1
	}
	if c.NATShare == 0 {
		c.NATShare = 0.5
	} else if c.NATShare < 0 {
		c.NATShare = 0
	}
	if c.Bootstrap == 0 {
		c.Bootstrap = 8
	}
	def(&c.SessionMean, 30*time.Minute)
	def(&c.OfflineMean, 5*time.Minute)
	def(&c.Duration, 20*time.Minute)
	def(&c.JoinSpread, time.Minute)
	if c.ScaledBucketSize == 0 {
		c.ScaledBucketSize = 4
	}
	def(&c.LatencyMedian, 40*time.Millisecond)
	if c.LatencySigma == 0 {
		c.LatencySigma = 0.6
	}
	def(&c.DialTimeout, 3*time.Second)
	def(&c.FillInterval, 2*time.Second)
	def(&c.PexInterval, 10*time.Second)
	def(&c.PexAnswerInterval, 5*time.Second)
	def(&c.MaintainInterval, 10*time.Second)
	def(&c.ProbeInterval, 30*time.Second)
	if c.MaxOutbound == 0 {
		c.MaxOutbound = peerset.DefaultMaxOutbound
	}
	if c.MaxInbound == 0 {
		c.MaxInbound = peerset.DefaultMaxInbound
	}
	def(&c.SampleEvery, 30*time.Second)
	if c.GossipOrigins == 0 {
		c.GossipOrigins = 20
	}
	if c.Monitored > c.Nodes {
		c.Monitored = c.Nodes
	}
	a := &c.Attack
	if a.Groups > 0 {
		if a.IPsPerGroup == 0 {
			a.IPsPerGroup = 1
		}
		if a.IDsPerIP == 0 {
			a.IDsPerIP = 1
		}
		if a.Groups*a.IPsPerGroup > 1<<20 || a.IPsPerGroup > 60000 {
			return c, fmt.Errorf("sim: Config.Attack: %d×%d addresses is too many", a.Groups, a.IPsPerGroup)
		}
	}
	if c.Validators > c.Nodes {
		return c, fmt.Errorf("sim: Config.Validators: %d exceeds Nodes %d", c.Validators, c.Nodes)
	}
	return c, nil
}

// bookConfig returns the book configuration of a node: the defaults for a
// full book, or the default bucket counts with ScaledBucketSize slots each
// (every share-of-table bound of peerbook holds as in a full book; only
// the absolute capacity shrinks).
func (c Config) bookConfig(full bool) peerbook.Config {
	if full || c.FullBooks {
		return peerbook.Config{}
	}
	return peerbook.Config{BucketSize: c.ScaledBucketSize}
}
