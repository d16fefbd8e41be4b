package peerbook

import (
	"net/netip"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// Pick returns up to n distinct addresses to dial. Each draw takes the new
// table with probability Config.NewBiasPercent (the tried table otherwise,
// or whichever has candidates left) and an entry of it uniformly at random.
// Entries in backoff, banned by ID or IP, refused by Deps.Filter's
// AllowDial, protected, or for which exclude (may be nil) returns true are
// skipped; exclude is how the caller skips connected and connecting peers
// and addresses it would refuse to dial (a full network group). It is
// given the entry's ID and IP (invalid for a DNS name) and is asked last,
// only about candidates Pick would otherwise return, so a caller may count
// the ones it accepts. A DNS-name entry cannot be screened here: the node
// checks every address it resolves to when it dials.
// exclude is called with the book's lock held and must not call the Book.
//
// The cost depends on n and on how many candidates are skipped, not on the
// book's size: at most n*8+256 candidates are examined, so Pick may return
// fewer than n addresses when almost every candidate is excluded.
func (b *Book) Pick(n int, exclude func(id crypto.ID, ip netip.Addr) bool) []crypto.Address {
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sampleReady(n, now, func(e *entry) bool {
		return b.dialable(e, now, exclude)
	})
}

// DueForProbe returns up to n addresses due for a churn probe: dialable as
// for Pick, and not attempted for Config.ProbeInterval (or never). The node
// dials them and reports MarkSuccess or MarkFailure, so dead entries collect
// failures and are evicted. Its cost is bounded like Pick's.
func (b *Book) DueForProbe(n int, exclude func(id crypto.ID, ip netip.Addr) bool) []crypto.Address {
	now := b.deps.Clock.Now()
	due := now.Add(-b.cfg.ProbeInterval)
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sampleReady(n, now, func(e *entry) bool {
		return !e.lastAttempt.After(due) && b.dialable(e, now, exclude)
	})
}

// dialable reports whether e may be returned by Pick or DueForProbe; it
// asks exclude last (see Pick).
func (b *Book) dialable(e *entry, now time.Time, exclude func(crypto.ID, netip.Addr) bool) bool {
	if b.bannedLocked(e, now) {
		return false
	}
	if b.deps.Filter != nil && e.ip.IsValid() {
		if ok, _ := b.deps.Filter.AllowDial(e.ip); !ok {
			return false
		}
	}
	return exclude == nil || !exclude(e.addr.ID, e.ip)
}

// sampleReady draws up to n distinct ready entries that accept approves, by
// a partial Fisher-Yates shuffle of the ready arrays in place: each draw
// swaps the drawn entry to the end of the still-undrawn region, so no entry
// is examined twice and no bookkeeping of drawn entries is needed.
func (b *Book) sampleReady(n int, now time.Time, accept func(*entry) bool) []crypto.Address {
	if n <= 0 {
		return nil
	}
	b.promoteDue(now)
	m := &b.mu
	var out []crypto.Address
	var drawn [3]int
	for tries := n*pickTriesPerResult + pickTriesMin; len(out) < n && tries > 0; tries-- {
		leftNew := len(m.ready[tableNew]) - drawn[tableNew]
		leftTried := len(m.ready[tableTried]) - drawn[tableTried]
		if leftNew+leftTried == 0 {
			break
		}
		t := tableNew
		if leftNew == 0 || (leftTried > 0 && m.rng.IntN(100) >= b.cfg.NewBiasPercent) {
			t = tableTried
		}
		r := m.ready[t]
		last := len(r) - 1 - drawn[t]
		i := m.rng.IntN(last + 1)
		e := r[i]
		r[i], r[last] = r[last], r[i]
		r[i].readyIdx, r[last].readyIdx = i, last
		drawn[t]++
		if accept(e) {
			if out == nil {
				out = make([]crypto.Address, 0, min(n, leftNew+leftTried))
			}
			out = append(out, e.addr)
		}
	}
	return out
}

// AnswerPex returns a PEX response for requester: up to req.Max addresses
// (Config.MaxPexAddrs if req.Max is 0 or larger), drawn uniformly from both
// tables, at most two per network group while other groups remain. Banned
// and failing entries, unverified ones (Entry.Unverified: a peer's own
// advertisement nobody has dialed yet), the requester itself, protected
// entries and local-network ones (SourceLocal: hints about our LAN,
// meaningless elsewhere and unchecked) are left out; nothing the book counts about a peer is sent. Its cost is bounded by
// the count, not the book's size.
func (b *Book) AnswerPex(req *pb.PexRequest, requester crypto.ID) *pb.PexResponse {
	n := int(req.GetMax())
	if n <= 0 || n > b.cfg.MaxPexAddrs {
		n = b.cfg.MaxPexAddrs
	}
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	m := &b.mu
	resp := &pb.PexResponse{}
	perGroup := make(map[groupKey]int, n)
	var spill []*entry // good entries over their group's share, used if nothing else fills the answer
	take := func(e *entry) {
		resp.Addrs = append(resp.Addrs, &pb.PeerAddress{Id: append([]byte(nil), e.addr.ID[:]...), Host: e.addr.Host, Port: uint32(e.addr.Port)})
	}
	left := len(m.all)
	for tries := n*pickTriesPerResult + pickTriesMin; len(resp.Addrs) < n && left > 0 && tries > 0; tries-- {
		last := left - 1
		i := m.rng.IntN(left)
		e := m.all[i]
		m.all[i], m.all[last] = m.all[last], m.all[i]
		m.all[i].allIdx, m.all[last].allIdx = i, last
		left--
		if e.addr.ID == requester || e.unverified || e.src.Kind == SourceLocal || b.terrible(e, now) {
			continue
		}
		if perGroup[e.group] >= pexPerGroup {
			if len(spill) < n {
				spill = append(spill, e)
			}
			continue
		}
		perGroup[e.group]++
		take(e)
	}
	for _, e := range spill {
		if len(resp.Addrs) >= n {
			break
		}
		take(e)
	}
	return resp
}

// FillPicks is the node's decision of what to dial to fill free outbound
// slots: up to free addresses from Pick (exclude as for Pick), or, when the
// book offers none, every bootstrap address that skipBootstrap (may be
// nil) does not rule out; a bootstrap address without an ID is always
// kept. fromBook is how many of picks, from the start, came from the book.
// The node and the simulator (sim/) both call it, so they fill alike.
func (b *Book) FillPicks(free int, exclude func(id crypto.ID, ip netip.Addr) bool, bootstrap []crypto.Address, skipBootstrap func(crypto.ID) bool) (picks []crypto.Address, fromBook int) {
	if free <= 0 {
		return nil, 0
	}
	picks = b.Pick(free, exclude)
	if len(picks) > 0 {
		return picks, len(picks)
	}
	for _, a := range bootstrap {
		if a.ID.IsZero() || skipBootstrap == nil || !skipBootstrap(a.ID) {
			picks = append(picks, a)
		}
	}
	return picks, 0
}
