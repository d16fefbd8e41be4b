package sim

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/discovery/dht"
)

// endpoint is anything that can be dialed: an honest node or one attacker
// identity.
type endpoint struct {
	id        crypto.ID
	ip        netip.Addr
	port      uint16
	addr      crypto.Address
	access    time.Duration // one-way access delay; a path costs the sum of both ends'
	listening bool
	node      *node // nil for an attacker identity
	atk       *attacker
	// key and rec are the identity and, for an attacker, the signed DHT
	// record of a run with Config.DHT (the ID is then the key's).
	key *crypto.Identity
	rec *dht.Record
}

// online reports whether the endpoint answers now.
func (e *endpoint) online() bool { return e.node == nil || e.node.online }

// Sim is one run's world.
type Sim struct {
	cfg   Config
	eng   *engine
	rng   *rand.Rand
	byID  map[crypto.ID]*endpoint
	nodes []*node
	boot  []crypto.Address
	atk   *attacker
	// victims are the monitored nodes (full books), the attacker's targets.
	victims []*node
	res     *Result
	seenIP  map[netip.Addr]bool
	// probeRng draws the DHT probes; dhtRounds are their outcomes by sample.
	probeRng  *rand.Rand
	dhtRounds []dhtRound
}

// publicFirstOctets are IPv4 first octets outside every special-purpose
// range the book or filter treats as unroutable.
var publicFirstOctets = func() []byte {
	var out []byte
	for o := 11; o <= 223; o++ {
		switch o {
		case 100, 127, 169, 172, 192, 198, 203:
			continue
		}
		out = append(out, byte(o))
	}
	return out
}()

// groupPrefixes returns n distinct public /16s, drawn without replacement.
func groupPrefixes(r *rand.Rand, n int, taken map[[2]byte]bool) [][2]byte {
	out := make([][2]byte, 0, n)
	for len(out) < n {
		g := [2]byte{publicFirstOctets[r.IntN(len(publicFirstOctets))], byte(r.IntN(256))}
		if taken[g] {
			continue
		}
		taken[g] = true
		out = append(out, g)
	}
	return out
}

// freshIP returns an unused address in the /16 g.
func (s *Sim) freshIP(g [2]byte) netip.Addr {
	for {
		ip := netip.AddrFrom4([4]byte{g[0], g[1], byte(s.rng.IntN(256)), byte(1 + s.rng.IntN(254))})
		if !s.seenIP[ip] {
			s.seenIP[ip] = true
			return ip
		}
	}
}

// newID returns a random peer ID.
func (s *Sim) newID() crypto.ID {
	var id crypto.ID
	for i := 0; i < len(id); i += 8 {
		v := s.rng.Uint64()
		for j := 0; j < 8 && i+j < len(id); j++ {
			id[i+j] = byte(v >> (8 * j))
		}
	}
	return id
}

// accessDelay draws one end's log-normal access delay.
func (s *Sim) accessDelay() time.Duration {
	med := float64(s.cfg.LatencyMedian) / 2
	return time.Duration(med * math.Exp(s.cfg.LatencySigma*s.rng.NormFloat64()))
}

// oneWay is the latency of a message from a to b.
func oneWay(a, b *endpoint) time.Duration { return a.access + b.access }

// zipf draws an index in [0, n) with P(k) ∝ 1/(k+1)^s, from the cumulative
// weights cum.
func zipfPick(r *rand.Rand, cum []float64) int {
	x := r.Float64() * cum[len(cum)-1]
	i, _ := slices.BinarySearch(cum, x)
	return min(i, len(cum)-1)
}

func zipfCum(n int, s float64) []float64 {
	cum := make([]float64, n)
	t := 0.0
	for k := range n {
		t += 1 / math.Pow(float64(k+1), s)
		cum[k] = t
	}
	return cum
}

// build creates the population: honest nodes, bootstrap list, validators,
// victims and the attacker.
func (s *Sim) build() error {
	c := s.cfg
	taken := map[[2]byte]bool{}
	groups := groupPrefixes(s.rng, c.Groups, taken)
	cum := zipfCum(len(groups), c.ZipfS)
	s.nodes = make([]*node, c.Nodes)
	eps := make([]*endpoint, c.Nodes)
	for i := range c.Nodes {
		g := groups[zipfPick(s.rng, cum)]
		if c.UniformGroups {
			g = groups[i%len(groups)]
		}
		ep := &endpoint{id: s.newID(), ip: s.freshIP(g), port: 26656, access: s.accessDelay()}
		ep.listening = s.rng.Float64() >= c.NATShare
		if c.DHT { // the ID is the signing key's; the world's draws stay as without
			k, err := s.identity(0, i)
			if err != nil {
				return err
			}
			ep.id, ep.key = k.ID(), k
		}
		ep.addr = crypto.Address{ID: ep.id, Host: ep.ip.String(), Port: ep.port}
		eps[i] = ep
		s.byID[ep.id] = ep
	}
	// Roles: the first listening nodes are the bootstrap nodes (stable),
	// then the validators (listening, stable), then the victims.
	var listeners []int
	for i, ep := range eps {
		if ep.listening {
			listeners = append(listeners, i)
		}
	}
	role := make([]int, c.Nodes) // 0 plain, 1 bootstrap, 2 validator
	k := 0
	for ; k < len(listeners) && len(s.boot) < c.Bootstrap; k++ {
		role[listeners[k]] = 1
		s.boot = append(s.boot, eps[listeners[k]].addr)
	}
	var validators []crypto.Address
	for ; k < len(listeners) && len(validators) < c.Validators; k++ {
		role[listeners[k]] = 2
		validators = append(validators, eps[listeners[k]].addr)
	}
	// Victims: monitored nodes drawn among the plain listening ones (the
	// attacker's inbound occupation needs them to listen).
	plain := append([]int(nil), listeners[k:]...)
	s.rng.Shuffle(len(plain), func(a, b int) { plain[a], plain[b] = plain[b], plain[a] })
	victim := map[int]bool{}
	for _, i := range plain[:min(len(plain), c.Monitored)] {
		victim[i] = true
	}
	if c.Attack.Groups > 0 {
		var err error
		if s.atk, err = newAttacker(s, taken); err != nil {
			return err
		}
		// Poisoned bootstrap list: replace a share of it.
		nb := int(math.Round(c.Attack.BootstrapShare * float64(len(s.boot))))
		for j := 0; j < nb && j < len(s.boot); j++ {
			s.boot[len(s.boot)-1-j] = s.atk.eps[j%len(s.atk.eps)].addr
		}
	}
	for i, ep := range eps {
		var must []crypto.Address
		if role[i] == 2 {
			for _, v := range validators {
				if v.ID != ep.id {
					must = append(must, v)
				}
			}
		}
		churny := role[i] == 0 && !victim[i] && s.rng.Float64() < c.ChurnShare
		n, err := newNode(s, i, ep, victim[i], must, role[i] == 2, churny)
		if err != nil {
			return err
		}
		n.seed = role[i] == 1 && !c.PlainBootstrap
		s.nodes[i] = n
		if victim[i] {
			s.victims = append(s.victims, n)
		}
	}
	return nil
}
