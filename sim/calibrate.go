package sim

import (
	"net/netip"
	"time"
)

// Calibration is the lab's PEX-poisoning scenario (lab TestPexPoisoning,
// docs/RELIABILITY.md) as measured in the simulator: one victim, eight
// honest nodes each in its own /16, five poisoners on one address each in
// one /16 answering every PEX request with 32 addresses of that /16 where
// nobody listens; the victim bootstraps to one honest node and one
// poisoner, and the other poisoners dial in.
type Calibration struct {
	// PoisonBook is the victim's book entries in the poison /16, BookLen
	// all its entries, HonestGroups the honest /16s in its book.
	PoisonBook, BookLen, HonestGroups int
	// Outbound, PoisonOut and HonestOutGroups describe its outbound peers
	// after the run; FourHonest is when they first spanned 4 honest /16s
	// (-1: never).
	Outbound, PoisonOut, HonestOutGroups int
	FourHonest                           time.Duration
	// Answered and Sent count the poisoners' PEX answers and addresses.
	Answered, Sent int
}

// CalibrationConfig is the lab scenario's Config for seed.
func CalibrationConfig(seed uint64) Config {
	return Config{Seed: seed, Nodes: 9, Groups: 9, UniformGroups: true, PlainBootstrap: true, NATShare: -1, Monitored: 1, Bootstrap: 2,
		MaxOutbound: 8, Duration: 80 * time.Second, JoinSpread: time.Second, SampleEvery: time.Second, GossipOrigins: 1,
		Attack: Attack{Name: "lab", Groups: 1, IPsPerGroup: 5, PexPoison: true, PoisonFake: true, InboundPerVictim: 4, BootstrapShare: 0.5}}
}

// Calibrate runs the lab scenario for seed: 60 s to reach 4 honest /16s,
// then 20 s more, as the lab test does.
func Calibrate(seed uint64) (Calibration, error) {
	var c Calibration
	s, err := newSim(CalibrationConfig(seed))
	if err != nil {
		return c, err
	}
	defer s.close()
	// The lab's honest nodes bootstrap to each other, not to the poisoner.
	for _, n := range s.nodes {
		if n.monitored {
			continue
		}
		for _, a := range s.boot {
			if s.byID[a.ID].atk != nil {
				n.book.Remove(a.ID)
			}
		}
	}
	s.atk.spread = nil // the lab's poisoners connect to the victim only
	v := s.victims[0]
	c.FourHonest = -1
	measure := func() {
		c = Calibration{FourHonest: c.FourHonest, Answered: c.Answered, Sent: c.Sent}
		groups := map[netip.Prefix]bool{}
		for _, e := range v.book.Entries() {
			c.BookLen++
			ap, _ := e.Addr.AddrPort()
			if s.atk.owns(ap.Addr()) {
				c.PoisonBook++
			} else {
				p, _ := ap.Addr().Prefix(16)
				groups[p] = true
			}
		}
		c.HonestGroups = len(groups)
		out := map[netip.Prefix]bool{}
		for _, l := range v.links {
			if l.a != v.ep {
				continue
			}
			c.Outbound++
			if l.b.atk != nil {
				c.PoisonOut++
			} else {
				p, _ := l.b.ip.Prefix(16)
				out[p] = true
			}
		}
		c.HonestOutGroups = len(out)
	}
	for t := time.Second; t <= 60*time.Second; t += 100 * time.Millisecond {
		s.eng.run(t)
		measure()
		if c.HonestOutGroups >= 4 {
			c.FourHonest = t
			break
		}
	}
	s.eng.run(s.eng.now + 20*time.Second)
	measure()
	c.Sent = s.res.PoisonSent
	c.Answered = s.res.PoisonSent / pexAsk
	return c, nil
}
