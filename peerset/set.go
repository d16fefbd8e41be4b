package peerset

import (
	"bytes"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// Set is the book of connected peers and the policy around them: limits,
// must-connect peers, duplicate resolution, reputation, bans and trimming.
// It does no I/O and starts no goroutine: the Node calls it on every
// accept, dial and disconnect, and from its timers, and acts on what it
// returns. A Set is safe for concurrent use.
type Set struct {
	cfg settings

	mu struct {
		sync.Mutex // protects everything below and the unexported fields of every admitted Peer
		closed     bool
		peers      map[crypto.ID]*Peer
		in, out    int                  // peers occupying slots (not must-connect), by direction
		mustUp     int                  // must-connect peers connected
		mustIn     int                  // of them, inbound
		groups     map[netip.Prefix]int // outbound slot peers per network group
		must       map[crypto.ID]*mustPeer
		dialing    map[crypto.ID]bool      // IDs between BeginDial and its done
		scoreBans  map[crypto.ID]time.Time // score bans made here, until when; see MaxScoreBans
		lastDecay  time.Time
		memory     scoreMemory
		scratch    []*Peer           // reused by Trim
		transient  map[Direction]int // transient connections open, by direction; see AdmitTransient
	}
}

// New returns a Set with the settings cfg, wired to deps; it returns a
// *ConfigError naming the first invalid field, or an error when deps has
// no Self.
func New(cfg Config, deps Deps) (*Set, error) {
	st, err := cfg.validate(deps)
	if err != nil {
		return nil, err
	}
	s := &Set{cfg: st}
	s.mu.peers = make(map[crypto.ID]*Peer)
	s.mu.groups = make(map[netip.Prefix]int)
	s.mu.must = make(map[crypto.ID]*mustPeer, len(cfg.MustConnect))
	s.mu.scoreBans = make(map[crypto.ID]time.Time)
	s.mu.dialing = make(map[crypto.ID]bool)
	s.mu.transient = make(map[Direction]int, 2)
	s.mu.memory.init(st.memory)
	s.mu.lastDecay = st.now()
	for _, a := range cfg.MustConnect {
		s.mu.must[a.ID] = &mustPeer{addr: a}
	}
	return s, nil
}

// Admit admits a connection that passed the handshake, or refuses it with a
// *RefusedError whose Reason the Node sends in its goaway. Checks, in order:
// the PeerInfo is valid (ReasonInvalid), not this node (ReasonSelf), the Set
// is open (ReasonShutdown), the peer is not banned (ReasonBanned), the
// duplicate rule (ReasonDuplicate); then, for peers that are neither
// must-connect nor replacing a duplicate, a free inbound or outbound slot
// (ReasonTooManyPeers), for outbound peers a network group with room
// (ReasonNetworkGroup), and the Counter's caps (ReasonAddressCap).
//
// When a connection to the same peer exists, the duplicate rule keeps
// exactly one, chosen the same way by both peers: if the two connections
// were dialed by different sides, the one dialed by the peer with the lower
// ID (bytewise) survives; if both were dialed by the same side, the newer
// survives (the dialer only dials a peer it has no connection to, so the
// older one is stale on its side). When the new connection survives, the
// old Peer is removed and returned as replaced, for the Node to close with
// ReasonDuplicate; its Remove is then a no-op. The survivor keeps the
// score and needs no free slot: it replaces the old connection one for one,
// so a direction may go over its limit while the total does not.
//
// A must-connect peer is exempt from slots, groups and caps (it is counted
// with Counter.AcquireExempt) and its redial schedule stops while it is
// connected. The returned Peer starts with the score remembered for its ID,
// if any.
func (s *Set) Admit(info PeerInfo, now time.Time) (p, replaced *Peer, err error) {
	id := info.ID
	switch {
	case id.IsZero():
		return nil, nil, refused(id, ReasonInvalid, "zero peer ID")
	case info.Direction != Inbound && info.Direction != Outbound:
		return nil, nil, refused(id, ReasonInvalid, "direction %v", info.Direction)
	case !info.Remote.Addr().IsValid():
		return nil, nil, refused(id, ReasonInvalid, "invalid remote address")
	case id == s.cfg.self:
		return nil, nil, refused(id, ReasonSelf, "")
	}
	ip := info.Remote.Addr().Unmap().WithZone("")
	p = &Peer{
		ID:          id,
		Direction:   info.Direction,
		Remote:      netip.AddrPortFrom(ip, info.Remote.Port()),
		Conn:        info.Conn,
		Meta:        info.Meta,
		ConnectedAt: now,
		group:       Group(ip),
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil, nil, refused(id, ReasonShutdown, "")
	}
	if until, ok := s.bannedLocked(id, now); ok {
		return nil, nil, refused(id, ReasonBanned, "until %s", until.UTC().Format(time.RFC3339))
	}
	old := s.mu.peers[id]
	if old != nil && !incomingWins(s.cfg.self, id, old.Direction, info.Direction) {
		return nil, nil, refused(id, ReasonDuplicate, "kept the %v connection", old.Direction)
	}
	mp := s.mu.must[id]
	c := s.cfg.counter
	if old != nil || mp != nil {
		if c != nil {
			p.release = c.AcquireExempt(ip)
		}
	} else {
		if err := s.slotFreeLocked(id, info.Direction, p.group); err != nil {
			return nil, nil, err
		}
		if c != nil {
			release, ok, why := c.Acquire(ip)
			if !ok {
				if release != nil {
					release()
				}
				return nil, nil, refused(id, ReasonAddressCap, "%s", why)
			}
			p.release = release
		}
	}

	if old != nil {
		s.detachLocked(old)
		p.score = old.score
		replaced = old
	} else {
		p.score = s.mu.memory.take(id)
	}
	p.must = mp != nil
	s.attachLocked(p)
	if mp != nil {
		mp.connected(now)
	}
	return p, replaced, nil
}

// incomingWins reports whether an incoming connection to remote replaces
// the existing one, by the duplicate rule (see Admit). Both peers evaluate
// it with self and remote swapped and the directions mirrored, and agree.
func incomingWins(self, remote crypto.ID, existing, incoming Direction) bool {
	if existing == incoming {
		return true // same dialer: the newer connection wins
	}
	// One connection was dialed by each side; the outbound one is ours.
	// Keep the one dialed by the lower ID.
	selfLower := bytes.Compare(self[:], remote[:]) < 0
	return (incoming == Outbound) == selfLower
}

// slotFreeLocked checks the slot limits and, for outbound, the group limit.
func (s *Set) slotFreeLocked(id crypto.ID, dir Direction, group netip.Prefix) error {
	if dir == Inbound {
		if s.mu.in >= s.cfg.maxIn {
			return refused(id, ReasonTooManyPeers, "inbound %d/%d", s.mu.in, s.cfg.maxIn)
		}
		return nil
	}
	if s.mu.out >= s.cfg.maxOut {
		return refused(id, ReasonTooManyPeers, "outbound %d/%d", s.mu.out, s.cfg.maxOut)
	}
	if s.cfg.maxPerGroup >= 0 && s.mu.groups[group] >= s.cfg.maxPerGroup {
		return refused(id, ReasonNetworkGroup, "%v has %d outbound", group, s.mu.groups[group])
	}
	return nil
}

// attachLocked inserts p and counts it.
func (s *Set) attachLocked(p *Peer) {
	s.mu.peers[p.ID] = p
	s.countLocked(p, +1)
}

// detachLocked removes p, uncounts it and releases its Counter count. It
// neither remembers the score nor touches the redial schedule.
func (s *Set) detachLocked(p *Peer) {
	delete(s.mu.peers, p.ID)
	s.countLocked(p, -1)
	if p.release != nil {
		p.release()
		p.release = nil
	}
}

// dropLocked removes p for a disconnect: detaches it, remembers its score
// and, for a must-connect peer, schedules the redial.
func (s *Set) dropLocked(p *Peer, now time.Time) {
	s.detachLocked(p)
	s.mu.memory.put(p.ID, p.score)
	if mp := s.mu.must[p.ID]; mp != nil {
		mp.disconnected(now, s.backoffLocked)
	}
}

// countLocked adds d (±1) to the counters p contributes to.
func (s *Set) countLocked(p *Peer, d int) {
	switch {
	case p.must:
		s.mu.mustUp += d
		if p.Direction == Inbound {
			s.mu.mustIn += d
		}
	case p.Direction == Inbound:
		s.mu.in += d
	default:
		s.mu.out += d
		n := s.mu.groups[p.group] + d
		if n <= 0 {
			delete(s.mu.groups, p.group)
		} else {
			s.mu.groups[p.group] = n
		}
	}
}

// setMustLocked changes whether connected peer p is must-connect.
func (s *Set) setMustLocked(p *Peer, must bool) {
	if p.must == must {
		return
	}
	s.countLocked(p, -1)
	p.must = must
	s.countLocked(p, +1)
}

// Remove removes p when its connection has ended, releasing its slot and
// its Counter count, remembering its score, and scheduling the redial of a
// must-connect peer. It reports whether p was still in the Set: it is a
// no-op for a Peer already removed by Trim, a ban, duplicate resolution or
// Close, and for a stale Peer whose ID has reconnected since. Safe for
// concurrent use.
func (s *Set) Remove(p *Peer) bool {
	if p == nil {
		return false
	}
	now := s.cfg.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.peers[p.ID] != p {
		return false
	}
	s.dropLocked(p, now)
	return true
}

// CheckDial reports whether dialing id at ip could lead to admission, so the
// Node does not dial peers Admit would refuse: not self, not banned, not
// connected (ReasonDuplicate), and, unless id is must-connect, a free
// outbound slot and room in ip's network group. A zero id (the identity is
// learned at the handshake) skips the checks by ID; an invalid ip skips the
// group check. Per-IP caps are the filter's business before the dial. It
// returns nil or a *RefusedError.
func (s *Set) CheckDial(id crypto.ID, ip netip.Addr, now time.Time) error {
	if !id.IsZero() && id == s.cfg.self {
		return refused(id, ReasonSelf, "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return refused(id, ReasonShutdown, "")
	}
	if !id.IsZero() {
		if until, ok := s.bannedLocked(id, now); ok {
			return refused(id, ReasonBanned, "until %s", until.UTC().Format(time.RFC3339))
		}
		if _, ok := s.mu.peers[id]; ok {
			return refused(id, ReasonDuplicate, "already connected")
		}
		if s.mu.must[id] != nil {
			return nil
		}
	}
	if s.mu.out >= s.cfg.maxOut {
		return refused(id, ReasonTooManyPeers, "outbound %d/%d", s.mu.out, s.cfg.maxOut)
	}
	if ip.IsValid() && s.cfg.maxPerGroup >= 0 {
		g := Group(ip)
		if s.mu.groups[g] >= s.cfg.maxPerGroup {
			return refused(id, ReasonNetworkGroup, "%v has %d outbound", g, s.mu.groups[g])
		}
	}
	return nil
}

// Get returns a snapshot of the connected peer id.
func (s *Set) Get(id crypto.ID) (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mu.peers[id]
	if p == nil {
		return Status{}, false
	}
	return p.status(), true
}

// Peers returns a snapshot of the connected peers, ordered by ID.
func (s *Set) Peers() []Status {
	s.mu.Lock()
	out := make([]Status, 0, len(s.mu.peers))
	for _, p := range s.mu.peers {
		out = append(out, p.status())
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Status) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out
}

// Len returns the number of connected peers, must-connect peers included.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.peers)
}

// Counts returns the Set's counters.
func (s *Set) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Counts{
		InboundSlots:     s.mu.in,
		OutboundSlots:    s.mu.out,
		MustConnectUp:    s.mu.mustUp,
		MustConnectTotal: len(s.mu.must),
		Remembered:       s.mu.memory.len(),
	}
	// The must-connect peers by direction are counted as they come and go
	// (countLocked), not by a walk of every peer: p2p and the simulator
	// ask for Counts on every fill and PEX round.
	c.Inbound = c.InboundSlots + s.mu.mustIn
	c.Outbound = c.OutboundSlots + s.mu.mustUp - s.mu.mustIn
	return c
}

// Close marks the Set closed and removes every peer, releasing their
// Counter counts, and returns them ordered by ID for the Node to disconnect
// with ReasonShutdown. Later Admit and CheckDial calls are refused with
// ReasonShutdown and DueRedials returns nothing. Close is idempotent: later
// calls return nil.
func (s *Set) Close() []*Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil
	}
	s.mu.closed = true
	out := make([]*Peer, 0, len(s.mu.peers))
	for _, p := range s.mu.peers {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *Peer) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	for _, p := range out {
		s.detachLocked(p)
	}
	return out
}
