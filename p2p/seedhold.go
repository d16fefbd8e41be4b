package p2p

import (
	"sync"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// A seed (NODE_ROLE_SEED, a node in seed mode) answers one PEX request and
// hangs up. A node below its outbound target with nothing else left to
// dial, which is every node of a network smaller than that target, would
// redial its seed on every fill round for as long as it runs, each time
// a handshake and an answer for the seed. So a seed whose visit taught us
// no new address is held back from the fill: for one FillInterval, then
// two, four and so on up to seedHoldMax while its visits keep teaching
// nothing. A visit that teaches something ends the hold: the seed knows
// more than we do, and the next round may ask again.

// seedHolds is the node's memory of such visits (seedVisited, seedHeld).
type seedHolds struct {
	sync.Mutex // guards m and pinned
	m          map[crypto.ID]seedHold
	// pinned maps a bootstrap address configured without an ID
	// ("host:port") to the ID its last dial found, so that the fill's
	// fallback to the bootstrap list can see the hold (bootstrapHeld).
	pinned map[string]crypto.ID
}

type seedHold struct {
	idle  int       // consecutive visits that taught no new address
	until time.Time // not dialed by the fill before, on the node's clock
}

// seedVisited records the end of pc, an outbound connection of ours: if
// its peer is a seed, the visit holds it back or, when it taught us an
// address, releases it.
func (n *Node) seedVisited(pc *peerConn) {
	if pc.meta.GetRole() != pb.NodeRole_NODE_ROLE_SEED {
		return
	}
	h := &n.seeds
	h.Lock()
	defer h.Unlock()
	if pc.pexLearned.Load() > 0 {
		delete(h.m, pc.id)
		return
	}
	now := n.s.Now()
	if h.m == nil || len(h.m) >= maxSeedHolds {
		kept := make(map[crypto.ID]seedHold, len(h.m))
		for id, s := range h.m {
			if s.until.After(now) {
				kept[id] = s
			}
		}
		if len(kept) >= maxSeedHolds {
			return // at the cap: this seed is not held, which costs only its redials
		}
		h.m = kept
	}
	s := h.m[pc.id]
	s.idle++
	hold := n.s.FillInterval
	for i := 1; i < s.idle && hold < seedHoldMax; i++ {
		hold *= 2
	}
	hold = min(hold, seedHoldMax)
	s.until = now.Add(hold)
	h.m[pc.id] = s
	n.log.Debug("seed held back", "peer", pc.id.String(), "idle_visits", s.idle, "for", hold)
}

// seedHeld reports whether the fill is to skip id, a seed whose last
// visits taught nothing, at now.
func (n *Node) seedHeld(id crypto.ID, now time.Time) bool {
	n.seeds.Lock()
	defer n.seeds.Unlock()
	s, ok := n.seeds.m[id]
	return ok && now.Before(s.until)
}

// pinBootstrap records that the bootstrap address plain, configured
// without an ID, was found to be id.
func (n *Node) pinBootstrap(plain crypto.Address, id crypto.ID) {
	for _, b := range n.s.bootstrap {
		if b.ID.IsZero() && b.String() == plain.String() {
			n.seeds.Lock()
			if n.seeds.pinned == nil {
				n.seeds.pinned = make(map[string]crypto.ID)
			}
			n.seeds.pinned[plain.String()] = id
			n.seeds.Unlock()
			return
		}
	}
}

// bootstrapHeld reports whether a, an address of the bootstrap list, is a
// seed the fill is to skip at now; an address without an ID is judged by
// the ID its last dial found.
func (n *Node) bootstrapHeld(a crypto.Address, now time.Time) bool {
	id := a.ID
	if id.IsZero() {
		n.seeds.Lock()
		id = n.seeds.pinned[a.String()]
		n.seeds.Unlock()
		if id.IsZero() {
			return false
		}
	}
	return n.seedHeld(id, now)
}
