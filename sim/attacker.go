package sim

import (
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/discovery/dht"
	"github.com/peerwire/peerwire/proto/pb"
)

// attacker is the adversary: Groups × IPsPerGroup addresses in /16s of its
// own, IDsPerIP identities on each (distinct ports), all listening,
// always online, accepting every connection.
type attacker struct {
	s        *Sim
	cfg      Attack
	rng      *rand.Rand
	groups   [][2]byte
	eps      []*endpoint
	groupSet map[netip.Prefix]bool
	conns    int
	next     int // round-robin over eps for inbound occupation
	// spread is, for each identity, the honest listening node it keeps one
	// connection to, so honest nodes beyond the victims hear of it (and ask
	// it for addresses).
	spread []*node
}

func newAttacker(s *Sim, taken map[[2]byte]bool) (*attacker, error) {
	c := s.cfg.Attack
	a := &attacker{s: s, cfg: c, rng: rand.New(stream(s.cfg.Seed, kindAttacker, 0)), groupSet: map[netip.Prefix]bool{}}
	a.groups = groupPrefixes(s.rng, c.Groups, taken)
	for _, g := range a.groups {
		a.groupSet[netip.PrefixFrom(netip.AddrFrom4([4]byte{g[0], g[1], 0, 0}), 16)] = true
		for range c.IPsPerGroup {
			ip := s.freshIP(g)
			for k := range c.IDsPerIP {
				ep := &endpoint{id: s.newID(), ip: ip, port: uint16(26656 + k), access: s.accessDelay(), listening: true, atk: a}
				if s.cfg.DHT {
					k, err := s.identity(1, len(a.eps))
					if err != nil {
						return nil, err
					}
					ep.id, ep.key = k.ID(), k
					if ep.rec, err = dht.NewRecord(k, dhtNetwork, 1, dht.RoleServer, []netip.AddrPort{netip.AddrPortFrom(ip, ep.port)}); err != nil {
						return nil, err
					}
				}
				ep.addr = crypto.Address{ID: ep.id, Host: ip.String(), Port: ep.port}
				s.byID[ep.id] = ep
				a.eps = append(a.eps, ep)
			}
		}
	}
	return a, nil
}

// owns reports whether ip is in one of the attacker's /16s.
func (a *attacker) owns(ip netip.Addr) bool {
	if a == nil {
		return false
	}
	p, _ := ip.Prefix(16)
	return a.groupSet[p]
}

// answerPex answers a PEX request: honest-looking (nothing) without
// poisoning, else MaxPexAddrs attacker addresses.
func (a *attacker) answerPex(to *endpoint) *pb.PexResponse {
	if !a.cfg.PexPoison {
		return &pb.PexResponse{}
	}
	resp := &pb.PexResponse{}
	for range pexAsk {
		var id crypto.ID
		var host string
		var port uint32
		if a.cfg.PoisonFake {
			g := a.groups[a.rng.IntN(len(a.groups))]
			for i := range id {
				id[i] = byte(a.rng.Uint32())
			}
			host = netip.AddrFrom4([4]byte{g[0], g[1], byte(a.rng.IntN(256)), byte(1 + a.rng.IntN(254))}).String()
			port = 26656
		} else {
			ep := a.eps[a.rng.IntN(len(a.eps))]
			id, host, port = ep.id, ep.addr.Host, uint32(ep.port)
		}
		resp.Addrs = append(resp.Addrs, &pb.PeerAddress{Id: append([]byte(nil), id[:]...), Host: host, Port: port})
	}
	a.s.res.PoisonSent += len(resp.Addrs)
	return resp
}

// occupyEvery is how often the attacker tops up its inbound connections.
const occupyEvery = 5 * time.Second

// occupy keeps InboundPerVictim inbound connections to each online victim,
// from its identities in turn.
func (a *attacker) occupy() {
	s := a.s
	for _, v := range s.victims {
		if !v.online || !v.ep.listening {
			continue
		}
		have := 0
		for _, l := range v.links {
			if l.other(v.ep).atk != nil && l.a.atk != nil {
				have++
			}
		}
		for try := 0; have < a.cfg.InboundPerVictim && try < 2*a.cfg.InboundPerVictim; try++ {
			ep := a.eps[a.next%len(a.eps)]
			a.next++
			s.eng.after(3*oneWay(ep, v.ep), func() {
				if v.online {
					s.connectIn(ep, v)
				}
			})
			have++
		}
	}
	for i, v := range a.spread {
		ep := a.eps[i]
		if v == nil || !v.online || v.byID[ep.id] != nil {
			continue
		}
		s.eng.after(3*oneWay(ep, v.ep), func() {
			if v.online {
				s.connectIn(ep, v)
			}
		})
	}
	s.eng.after(occupyEvery, a.occupy)
}
