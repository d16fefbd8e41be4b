package sim

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// Sample is the state of the honest population at one instant.
type Sample struct {
	T time.Duration
	// Online is the number of honest nodes online.
	Online int
	// FullOutbound is the share of online honest nodes whose outbound
	// slots are all taken; MeanOutbound their mean outbound peers.
	FullOutbound float64
	MeanOutbound float64
	// Eclipsed is the share of online honest nodes with at least one peer,
	// every one of them the attacker's; EclipsedVictims the same among the
	// victims.
	Eclipsed        float64
	EclipsedVictims float64
	// HonestOut is the share of online honest nodes with at least one
	// honest outbound peer; AttackerOut the attacker's share of all honest
	// nodes' outbound slots, AttackerOutVictims of the victims'.
	HonestOut          float64
	AttackerOut        float64
	AttackerOutVictims float64
	// MaxAttackerOut is the most outbound peers of one honest node that
	// are the attacker's.
	MaxAttackerOut int
	// With Config.DHT: DHTEntries is the mean table entries of online
	// honest nodes, DHTAttackerShare the attacker's share of them;
	// DHTRecall the mean recall of the probe lookups started at this
	// sample (finished later; -1 when none finished), DHTResultShare the
	// attacker's share of their results.
	DHTEntries       float64
	DHTAttackerShare float64
	DHTRecall        float64
	DHTResultShare   float64
}

// Result is what one run measured.
type Result struct {
	Config  Config
	Samples []Sample
	// Final is the last sample.
	Final Sample
	// BookShare and PickShare are the attacker's share of book entries and
	// of dial picks (Book.Pick of MaxOutbound, three times) at the end,
	// over the victims (full books) and over a sample of other nodes
	// (scaled books).
	BookShareVictims, BookShareOthers float64
	PickShareVictims, PickShareOthers float64
	// EclipseTime is the median time, from the start (or from RestartAt),
	// to a victim's first fully eclipsed sample, over eclipsed victims;
	// -1 when none was.
	EclipseTime time.Duration
	// Convergence is the first sample time at which 95% of online honest
	// nodes had full outbound slots; -1 when never.
	Convergence time.Duration
	// GossipReach[i] is the mean share of online honest nodes a message
	// from a random honest node reached within GossipStep*i; GossipFinal
	// the share reached at all; GossipDup the copies received per node
	// reached.
	GossipReach []float64
	GossipStep  time.Duration
	GossipFinal float64
	GossipDup   float64
	// Counters over the run.
	Events, Dials, DialFailures, Refused, RefusedInbound, PexRequests, PexAdded, PoisonSent, Bans, Trimmed, Restarts int
	// ValidatorsMeshed is the share of validator pairs connected at the end.
	ValidatorsMeshed float64
	// DHT outcomes (Config.DHT; docs/SIMULATION.md defines them):
	// DHTTableShare is the attacker's share of the table entries of online
	// honest nodes at the end, DHTTableShareVictims of the victims';
	// DHTEntries their mean table size. DHTRecall and DHTResultShare are
	// the probe lookups' mean recall and attacker share of results over
	// the last quarter of the probe rounds that finished; DHTConvergence the first sample at whose
	// probe lookups the mean recall reached 0.9 (-1 never). DHTHops and
	// DHTLookupTime are the probes' mean hops and median duration.
	DHTTableShare, DHTTableShareVictims, DHTEntries float64
	DHTRecall, DHTResultShare                       float64
	DHTConvergence                                  time.Duration
	DHTHops                                         float64
	DHTLookupTime                                   time.Duration
	// DHTQueries counts the DHT requests carried, DHTBookAdded the book
	// entries lookups added, DHTPoisonSent the attacker records answered.
	DHTQueries, DHTBookAdded, DHTPoisonSent int
	// DHTMaxResultAttackers is the most attacker records one probe
	// lookup's result held.
	DHTMaxResultAttackers int
	refusals              map[string]int
	dhtHops               []float64
	dhtTimes              []time.Duration
}

// Run simulates cfg and returns what it measured. Same cfg, same Result.
func Run(cfg Config) (*Result, error) {
	s, err := newSim(cfg)
	if err != nil {
		return nil, err
	}
	defer s.close()
	s.eng.run(s.cfg.Duration)
	s.finish()
	return s.res, nil
}

// close releases the nodes' filters and books.
func (s *Sim) close() {
	for _, n := range s.nodes {
		if n != nil {
			n.filt.Close()
			n.book.Close()
		}
	}
}

// newSim builds the world of cfg and schedules its start; the caller runs
// the engine.
func newSim(cfg Config) (*Sim, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sim{cfg: cfg, eng: newEngine(), rng: rand.New(stream(cfg.Seed, kindWorld, 0)),
		byID: map[crypto.ID]*endpoint{}, seenIP: map[netip.Addr]bool{}, res: &Result{Config: cfg, refusals: map[string]int{}}}
	if err := s.build(); err != nil {
		s.close()
		return nil, err
	}
	for _, n := range s.nodes {
		at := time.Duration(0)
		if !s.isBoot(n) && !n.validator {
			at = time.Duration(s.rng.Int64N(int64(cfg.JoinSpread)))
		}
		s.eng.after(at, func() { _ = n.start() })
	}
	if a := s.atk; a != nil {
		var listeners []*node
		for _, n := range s.nodes {
			if n.ep.listening && !n.monitored {
				listeners = append(listeners, n)
			}
		}
		if len(listeners) > 0 {
			a.spread = make([]*node, len(a.eps))
			for i := range a.spread {
				a.spread[i] = listeners[s.rng.IntN(len(listeners))]
			}
		}
		s.eng.after(time.Second, a.occupy)
		if r := cfg.Attack.RestartAt; r > 0 {
			s.eng.after(r, func() {
				for _, v := range s.victims {
					if v.online {
						v.eclipsedAt = -1
						v.restart(time.Second)
					}
				}
			})
		}
	}
	if cfg.DHT {
		s.probeRng = rand.New(stream(cfg.Seed, kindProbe, 0))
		if a := s.atk; a != nil {
			s.eng.after(time.Second, a.dhtContact)
		}
	}
	var sample func()
	sample = func() {
		s.res.Samples = append(s.res.Samples, s.sample())
		if cfg.DHT {
			s.dhtProbe()
		}
		s.eng.after(cfg.SampleEvery, sample)
	}
	s.eng.after(cfg.SampleEvery, sample)
	return s, nil
}

func (s *Sim) isBoot(n *node) bool {
	for _, a := range s.boot {
		if a.ID == n.ep.id {
			return true
		}
	}
	return false
}

// sample measures the honest population now.
func (s *Sim) sample() Sample {
	sm := Sample{T: s.eng.now}
	var full, out, ecl, hon, atkOut, totOut, vOn, vEcl, vAtk, vOut int
	for _, n := range s.nodes {
		if !n.online {
			continue
		}
		sm.Online++
		c := n.set.Counts()
		if c.OutboundSlots >= s.cfg.MaxOutbound {
			full++
		}
		out += c.OutboundSlots
		peers, atkPeers, honOut, aOut, nOut := 0, 0, 0, 0, 0
		for _, l := range n.links {
			o := l.other(n.ep)
			peers++
			outbound := l.a == n.ep
			if o.atk != nil {
				atkPeers++
				if outbound {
					aOut++
				}
			} else if outbound {
				honOut++
			}
			if outbound {
				nOut++
			}
		}
		eclipsed := peers > 0 && atkPeers == peers
		if eclipsed {
			ecl++
			if n.eclipsedAt < 0 {
				n.eclipsedAt = s.eng.now
			}
		}
		if honOut > 0 {
			hon++
		}
		atkOut += aOut
		totOut += nOut
		sm.MaxAttackerOut = max(sm.MaxAttackerOut, aOut)
		if n.monitored {
			vOn++
			vAtk += aOut
			vOut += nOut
			if eclipsed {
				vEcl++
			}
		}
	}
	frac := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	sm.FullOutbound = frac(full, sm.Online)
	sm.MeanOutbound = frac(out, sm.Online)
	sm.Eclipsed = frac(ecl, sm.Online)
	sm.EclipsedVictims = frac(vEcl, vOn)
	sm.HonestOut = frac(hon, sm.Online)
	sm.AttackerOut = frac(atkOut, totOut)
	sm.AttackerOutVictims = frac(vAtk, vOut)
	sm.DHTRecall = -1
	if s.cfg.DHT {
		sm.DHTAttackerShare, sm.DHTEntries = s.dhtTables(s.nodes)
	}
	return sm
}

// finish computes the end-of-run outcomes.
func (s *Sim) finish() {
	r := s.res
	r.Events = int(s.eng.ran)
	r.Final = s.sample()
	r.Samples = append(r.Samples, r.Final)
	r.Convergence = -1
	for _, sm := range r.Samples {
		if sm.FullOutbound >= 0.95 {
			r.Convergence = sm.T
			break
		}
	}
	var times []time.Duration
	for _, v := range s.victims {
		if v.eclipsedAt >= 0 {
			t := v.eclipsedAt
			if ra := s.cfg.Attack.RestartAt; ra > 0 {
				t -= ra
			}
			times = append(times, t)
		}
	}
	r.EclipseTime = -1
	if len(times) > 0 {
		slices.Sort(times)
		r.EclipseTime = times[len(times)/2]
	}
	// Books and picks: the victims, and up to 100 other online nodes.
	var others []*node
	for _, n := range s.nodes {
		if !n.monitored && n.online {
			others = append(others, n)
		}
	}
	s.rng.Shuffle(len(others), func(i, j int) { others[i], others[j] = others[j], others[i] })
	others = others[:min(100, len(others))]
	r.BookShareVictims, r.PickShareVictims = s.bookShares(s.victims)
	r.BookShareOthers, r.PickShareOthers = s.bookShares(others)
	s.gossip()
	if s.cfg.DHT {
		s.finishDHT()
	}
	// Validators.
	var vals []*node
	for _, n := range s.nodes {
		if n.validator {
			vals = append(vals, n)
		}
	}
	pairs, up := 0, 0
	for i, a := range vals {
		for _, b := range vals[i+1:] {
			pairs++
			if a.online && a.byID[b.ep.id] != nil {
				up++
			}
		}
	}
	if pairs > 0 {
		r.ValidatorsMeshed = float64(up) / float64(pairs)
	}
}

func (s *Sim) bookShares(ns []*node) (book, pick float64) {
	var be, ba, pe, pa int
	for _, n := range ns {
		for _, e := range n.book.Entries() {
			be++
			if ap, ok := e.Addr.AddrPort(); ok && s.atk.owns(ap.Addr()) {
				ba++
			}
		}
		for range 3 {
			for _, a := range n.book.Pick(s.cfg.MaxOutbound, nil) {
				pe++
				if ap, ok := a.AddrPort(); ok && s.atk.owns(ap.Addr()) {
					pa++
				}
			}
		}
	}
	if be > 0 {
		book = float64(ba) / float64(be)
	}
	if pe > 0 {
		pick = float64(pa) / float64(pe)
	}
	return book, pick
}
