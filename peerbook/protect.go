package peerbook

import (
	"net/netip"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// Protected entries: the must-connect peers the operator names, kept apart
// from the buckets and never evicted.

// Protect adds addr as a must-connect peer, or makes the known peer with its
// ID one, with addr as its address. Protected entries live outside the
// buckets, so they never compete for slots, are never evicted, and are
// neither picked for dialing nor shared through PEX: the peer set dials
// them itself, listing them with Protected. Protect returns ErrSelf, ErrInvalidAddress or
// ErrTooManyProtected; it does not check routability or bans.
func (b *Book) Protect(addr crypto.Address) error {
	ip, err := validAddress(addr)
	if err != nil {
		return err
	}
	if addr.ID == b.deps.SelfID {
		return ErrSelf
	}
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	m := &b.mu
	e, ok := m.byID[addr.ID]
	if ok && e.protected {
		if e.addr != addr {
			b.noteKnown(e.ip, -1)
			b.noteKnown(ip, 1)
			e.addr, e.ip, e.group = addr, ip, b.groupOf(addr.Host)
			e.failures, e.nextAttempt = 0, time.Time{}
			e.unverified = false // the operator's address
		}
		b.touch()
		return nil
	}
	if len(m.protected) >= MaxProtected {
		return ErrTooManyProtected
	}
	if ok {
		b.unlink(e)
		if e.src.Kind == SourceLocal {
			// The operator's word now: no longer a capped, expiring hint.
			delete(m.local, e.addr.ID)
			e.src = Source{Kind: SourceManual}
		}
		if e.addr != addr {
			e.addr, e.ip, e.group = addr, ip, b.groupOf(addr.Host)
			e.failures, e.nextAttempt = 0, time.Time{}
			e.unverified = false // the operator's address
		}
	} else {
		e = &entry{
			addr: addr, ip: ip, src: Source{Kind: SourceManual},
			group: b.groupOf(addr.Host), srcGroup: b.groupOf(""),
			firstSeen: now, lastSeen: now,
			pos: -1, allIdx: -1, readyIdx: -1, heapIdx: -1,
		}
		m.byID[addr.ID] = e
	}
	e.protected = true
	m.protected[e.addr.ID] = e
	b.noteKnown(e.ip, 1)
	b.touch()
	return nil
}

// Unprotect makes a protected peer an ordinary entry again. It joins the new
// table (or the tried one, if it was reached), or leaves the book if its slot
// is held by a good entry or the book is full. Unprotect returns
// ErrUnknownPeer for an unknown ID and nil otherwise.
func (b *Book) Unprotect(id crypto.ID) error {
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.mu.byID[id]
	if !ok {
		return ErrUnknownPeer
	}
	if !e.protected {
		return nil
	}
	e.protected = false
	delete(b.mu.protected, id)
	b.noteKnown(e.ip, -1)
	b.touch()
	e.srcGroup = b.srcGroupOf(e.src, e.addr.Host)
	pos := b.newPos(e)
	if b.makeRoomNew(pos, now) != ignoreNone {
		delete(b.mu.byID, id)
		return nil
	}
	b.link(e, tableNew, pos, now)
	if !e.lastSuccess.IsZero() {
		b.moveToTried(e, now)
	}
	return nil
}

// KnownIP reports whether ip is the address of a peer the node has reached
// (an entry of the tried table) or one the operator named (a protected
// entry). The node gives such addresses handshake slots that a flood of
// strangers cannot take. IPv4-mapped IPv6 addresses count as IPv4. It is
// O(1).
func (b *Book) KnownIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.known[ip] > 0
}

// noteKnown counts d more (or fewer) known entries at ip; a DNS name's
// entry (no IP) counts nowhere.
func (b *Book) noteKnown(ip netip.Addr, d int) {
	if !ip.IsValid() {
		return
	}
	ip = ip.Unmap()
	m := b.mu.known
	if m[ip] += d; m[ip] <= 0 {
		delete(m, ip)
	}
}
