package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/peerset"
)

// Observed addresses (docs/PROTOCOL.md §9.2): every PEX message carries,
// in field observedField of the PexMessage, the address its sender sees
// the connection's other end at. The field is outside the generated
// message, so nodes that do not know it skip it as an unknown field.
const (
	// observedField is the PexMessage field number of the observed
	// address: bytes, the IP (4 or 16 bytes) then the port (2 bytes, big
	// endian).
	observedField protowire.Number = 15
	// ObservedQuorum is how many observers in distinct network groups
	// (IPv4 /16, IPv6 /48) must report the same IP before the node
	// believes it; the port needs as many among observers that dialed the
	// node, since only they reached its listener (an outbound
	// connection's source port is ephemeral). One peer, or many in one
	// group, can never move it.
	ObservedQuorum = 4
	// observedTTL is how long an observation counts once its observer's
	// connection has ended: a connected peer's report never expires, since
	// the remote address of a live TCP connection cannot change and a
	// node at its outbound target hears no new PEX messages. 30 minutes
	// lets a peer that reconnects keep its vote, and is short enough that
	// a changed address is learned within the hour.
	observedTTL = 30 * time.Minute
	// observedSweep is how often expired reports are dropped: an
	// observation counts for observedTTL plus at most this.
	observedSweep = time.Minute
	// maxObservers bounds the observations kept (one per peer ID, about
	// 100 bytes each); beyond it the oldest is dropped.
	maxObservers = 1024
	// observerGroupBits4 and observerGroupBits6 are the observer groups.
	observerGroupBits4 = 16
	observerGroupBits6 = 48
)

// errObserved is a malformed observed-address field.
var errObserved = errors.New("observed address")

// appendObserved appends the observed-address field for ap to the
// marshalled PexMessage b.
func appendObserved(b []byte, ap netip.AddrPort) []byte {
	if !ap.IsValid() {
		return b
	}
	ip := ap.Addr().Unmap()
	v := ip.AsSlice()
	v = binary.BigEndian.AppendUint16(v, ap.Port())
	b = protowire.AppendTag(b, observedField, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// decodeObserved finds the observed-address field among a PexMessage's
// unknown fields. It returns ok false when there is none (an older
// sender), and an error for a field of the wrong type or length, an
// unspecified, zoned or zero-port address, or unparsable bytes. The last
// occurrence wins, as for any protobuf scalar.
func decodeObserved(unknown []byte) (ap netip.AddrPort, ok bool, err error) {
	for len(unknown) > 0 {
		num, typ, n := protowire.ConsumeTag(unknown)
		if n < 0 {
			return netip.AddrPort{}, false, fmt.Errorf("%w: %v", errObserved, protowire.ParseError(n))
		}
		unknown = unknown[n:]
		if num != observedField {
			m := protowire.ConsumeFieldValue(num, typ, unknown)
			if m < 0 {
				return netip.AddrPort{}, false, fmt.Errorf("%w: %v", errObserved, protowire.ParseError(m))
			}
			unknown = unknown[m:]
			continue
		}
		if typ != protowire.BytesType {
			return netip.AddrPort{}, false, fmt.Errorf("%w: wire type %d", errObserved, typ)
		}
		v, m := protowire.ConsumeBytes(unknown)
		if m < 0 {
			return netip.AddrPort{}, false, fmt.Errorf("%w: %v", errObserved, protowire.ParseError(m))
		}
		unknown = unknown[m:]
		if len(v) != 6 && len(v) != 18 {
			return netip.AddrPort{}, false, fmt.Errorf("%w: %d bytes, want 6 or 18", errObserved, len(v))
		}
		ip, _ := netip.AddrFromSlice(v[:len(v)-2])
		port := binary.BigEndian.Uint16(v[len(v)-2:])
		ip = ip.Unmap()
		if ip.IsUnspecified() || port == 0 {
			return netip.AddrPort{}, false, fmt.Errorf("%w: %v port %d", errObserved, ip, port)
		}
		ap, ok = netip.AddrPortFrom(ip, port), true
	}
	return ap, ok, nil
}

// observation is one peer's latest report of our address.
type observation struct {
	group  netip.Prefix   // the observer's network group, from its connection IP
	seen   netip.AddrPort // what it reported
	portOK bool           // the observer dialed us: it reached our listener at seen's port
	// live is the reporting connection's current flag (peerConn.current):
	// while it is set the report does not expire. nil is never live.
	live *atomic.Bool
	at   time.Time // the report, or the end of its connection (gone)
}

// isLive reports whether the observer's connection is up.
func (o observation) isLive() bool { return o.live != nil && o.live.Load() }

// observedVotes decides the node's observed address from its peers'
// reports: safe for concurrent use. The reports are also counted by
// group (ipGroups, portGroups), so that a report costs a walk of the
// distinct addresses reported, not of every report.
type observedVotes struct {
	mu         sync.Mutex
	byPeer     map[crypto.ID]observation
	ipGroups   map[netip.Addr]map[netip.Prefix]int     // reports of each IP, per observer group
	portGroups map[netip.AddrPort]map[netip.Prefix]int // dialers' reports of each address, per group
	swept      time.Time                               // last sweep of expired reports
	// best is the believed address of each family (fam4, fam6), tallied
	// apart so that a dual-stack node believes one of each: its IP zero
	// until a quorum, its port 0 until a quorum of dialers.
	best [2]netip.AddrPort
}

// The address families, indices of observedVotes.best.
const (
	fam4 = 0
	fam6 = 1
)

// family returns ip's index in observedVotes.best.
func family(ip netip.Addr) int {
	if ip.Unmap().Is4() {
		return fam4
	}
	return fam6
}

// observerGroup is the network group an observer at ip counts in.
func observerGroup(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := observerGroupBits6
	if ip.Is4() {
		bits = observerGroupBits4
	}
	p, _ := ip.Prefix(bits)
	return p
}

// bump adds d to the count of group g under key k, dropping what falls
// to zero.
func bump[K comparable](m map[K]map[netip.Prefix]int, k K, g netip.Prefix, d int) {
	gs := m[k]
	if gs == nil {
		gs = map[netip.Prefix]int{}
		m[k] = gs
	}
	if gs[g] += d; gs[g] <= 0 {
		delete(gs, g)
	}
	if len(gs) == 0 {
		delete(m, k)
	}
}

// countLocked adds (d 1) or removes (d -1) o from the group counts.
func (v *observedVotes) countLocked(o observation, d int) {
	bump(v.ipGroups, o.seen.Addr(), o.group, d)
	if o.portOK {
		bump(v.portGroups, o.seen, o.group, d)
	}
}

// add records the report seen of the observer id, whose connection comes
// from observer; dialed says the observer dialed us, and live is the
// connection's current flag (nil: never live), which keeps the report
// from expiring while it is set. It returns the believed address and
// which families' belief changed.
func (v *observedVotes) add(id crypto.ID, observer netip.Addr, seen netip.AddrPort, dialed bool, live *atomic.Bool, now time.Time) ([2]netip.AddrPort, [2]bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.byPeer == nil {
		v.byPeer = make(map[crypto.ID]observation)
		v.ipGroups = make(map[netip.Addr]map[netip.Prefix]int)
		v.portGroups = make(map[netip.AddrPort]map[netip.Prefix]int)
		v.swept = now
	}
	o := observation{group: observerGroup(observer), seen: seen, portOK: dialed, live: live, at: now}
	prev, ok := v.byPeer[id]
	same := ok && prev.group == o.group && prev.seen == o.seen && prev.portOK == o.portOK
	switch {
	case same:
		// The same report again (every PEX message carries one): only
		// its age changes, and the counts stay.
		v.byPeer[id] = o
		if now.Sub(v.swept) < observedSweep {
			return v.best, [2]bool{}
		}
		return v.tallyLocked(now)
	case ok:
		v.countLocked(prev, -1)
	case len(v.byPeer) >= maxObservers:
		v.dropOldestLocked()
	}
	v.countLocked(o, 1)
	v.byPeer[id] = o
	return v.tallyLocked(now)
}

func (v *observedVotes) dropOldestLocked() {
	// The oldest report of an observer no longer connected; only when
	// every observer is connected, the oldest of all (a connected peer's
	// report, however old, never expires).
	var oldest crypto.ID
	var at time.Time
	first, live := true, true
	for id, o := range v.byPeer {
		l := o.isLive()
		if first || (live && !l) || (l == live && o.at.Before(at)) {
			oldest, at, live, first = id, o.at, l, false
		}
	}
	v.countLocked(v.byPeer[oldest], -1)
	delete(v.byPeer, oldest)
}

// tallyLocked decides, for each address family apart: an IP is believed
// once ObservedQuorum distinct observer groups report it and no other IP
// of its family has as many; its port once as many groups of dialers
// agree on one. Every observedSweep it first drops expired reports. It
// returns the believed addresses and which of them changed.
func (v *observedVotes) tallyLocked(now time.Time) ([2]netip.AddrPort, [2]bool) {
	if now.Sub(v.swept) >= observedSweep {
		v.swept = now
		for id, o := range v.byPeer {
			if !o.isLive() && now.Sub(o.at) > observedTTL {
				v.countLocked(o, -1)
				delete(v.byPeer, id)
			}
		}
	}
	var best [2]netip.Addr
	var bestN [2]int
	var tie [2]bool
	for ip, gs := range v.ipGroups {
		f := family(ip)
		switch n := len(gs); {
		case n > bestN[f]:
			best[f], bestN[f], tie[f] = ip, n, false
		case n == bestN[f]:
			tie[f] = true
		}
	}
	var got [2]netip.AddrPort
	var changed [2]bool
	for f := range got {
		ip, port, portN := netip.Addr{}, uint16(0), 0
		if bestN[f] >= ObservedQuorum && !tie[f] {
			ip = best[f]
			for ap, gs := range v.portGroups {
				if ap.Addr() == ip && len(gs) >= ObservedQuorum && len(gs) > portN {
					port, portN = ap.Port(), len(gs)
				}
			}
		}
		got[f] = netip.AddrPortFrom(ip, port)
		changed[f] = got[f] != v.best[f]
	}
	v.best = got
	return got, changed
}

// gone notes that the connection of the observer id has ended (its live
// flag is already clear): its report expires observedTTL from now.
func (v *observedVotes) gone(id crypto.ID, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if o, ok := v.byPeer[id]; ok && !o.isLive() {
		o.at, o.live = now, nil // nil: the ended connection is not kept alive by its report
		v.byPeer[id] = o
	}
}

// seenBy returns what the peer id last reported seeing us at.
func (v *observedVotes) seenBy(id crypto.ID) (netip.AddrPort, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	o, ok := v.byPeer[id]
	return o.seen, ok
}

// believed returns the believed address: the IPv4 one if any, else the
// IPv6 one.
func (v *observedVotes) believed() netip.AddrPort {
	if all := v.believedAll(); len(all) > 0 {
		return all[0]
	}
	return netip.AddrPort{}
}

// believedAll returns the believed address of each family that has one,
// IPv4 first.
func (v *observedVotes) believedAll() []netip.AddrPort {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []netip.AddrPort
	for _, ap := range v.best {
		if ap.Addr().IsValid() {
			out = append(out, ap)
		}
	}
	return out
}

// ObservedAddr returns the address the node's peers see it at, once
// ObservedQuorum observers in distinct network groups (IPv4 /16, IPv6
// /48) agree on the IP: the zero AddrPort before that. Its port is 0
// until as many groups of peers that dialed the node agree on it. The
// node does not advertise it: it is a candidate for verification (a
// dial-back, dialback.go), not a verified address: it is advertised once
// a dial-back check verifies it. A dual-stack node believes an address
// of each family (ObservedAddrs); ObservedAddr returns the IPv4 one
// then. It is safe for concurrent use.
func (n *Node) ObservedAddr() netip.AddrPort { return n.reach.observed.believed() }

// ObservedAddrs returns every address the node's peers see it at, one per
// address family, IPv4 first: each family is tallied apart under
// ObservedAddr's rule, so a dual-stack node learns both. It returns nil
// before any quorum. It is safe for concurrent use.
func (n *Node) ObservedAddrs() []netip.AddrPort { return n.reach.observed.believedAll() }

// noteObserved takes the observed-address field of a PEX message from pc.
// It reports false for a malformed field, which the caller treats as a
// malformed message.
func (n *Node) noteObserved(pc *peerConn, unknown []byte) bool {
	seen, ok, err := decodeObserved(unknown)
	if err != nil {
		n.malformed(pc, "PEX message: "+err.Error())
		return false
	}
	if !ok {
		return true
	}
	now := n.s.Now()
	got, changed := n.reach.observed.add(pc.id, pc.remote.Addr(), seen, pc.dir == peerset.Inbound, &pc.current, now)
	kick := false
	for f, ap := range got {
		if !changed[f] {
			continue
		}
		fam := "ipv4"
		if f == fam6 {
			fam = "ipv6"
		}
		n.log.Info("observed address changed", "family", fam, "observed", ap.String(), "quorum", ObservedQuorum)
		if !ap.Addr().IsValid() {
			ap = netip.AddrPort{}
		}
		n.events.publish(Event{Kind: EventObservedAddress, Addr: ap, Reason: fam, Time: now})
		kick = true
	}
	if kick {
		n.kickReachability() // dialback.go: verify the new candidates
	}
	return true
}
