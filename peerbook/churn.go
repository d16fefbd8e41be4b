package peerbook

import (
	"net/netip"
	"strings"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// MarkAttempt records that a dial to the peer starts now. Until it ends
// (MarkSuccess or MarkFailure) or BackoffBase passes, the peer is not picked
// again. It returns ErrUnknownPeer for an unknown ID.
func (b *Book) MarkAttempt(id crypto.ID) error {
	return b.mark(id, func(e *entry, now time.Time) {
		e.lastAttempt = now
		if hold := now.Add(b.cfg.BackoffBase); hold.After(e.nextAttempt) {
			e.nextAttempt = hold
		}
		b.schedule(e, now)
		b.touch()
	})
}

// mark runs f on id's entry with the book locked and the clock's reading
// taken before the lock, as every Mark* does; it returns ErrUnknownPeer,
// without running f, for an unknown ID.
func (b *Book) mark(id crypto.ID, f func(e *entry, now time.Time)) error {
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.mu.byID[id]
	if !ok {
		return ErrUnknownPeer
	}
	f(e, now)
	return nil
}

// MarkSuccess records that a dial to the peer dialed.ID at dialed's host
// and port succeeded (the handshake completed): failures reset, backoff
// ends and the entry moves to the tried table. The entry's address counts
// as verified (Entry.Unverified) only when it is the address dialed: a
// peer reached at another address (an application's Dial, a must-connect
// address) says nothing about the one it advertised. It returns
// ErrUnknownPeer for an unknown ID.
func (b *Book) MarkSuccess(dialed crypto.Address) error {
	return b.mark(dialed.ID, func(e *entry, now time.Time) {
		if e.lastAttempt.IsZero() {
			e.lastAttempt = now
		}
		e.lastSuccess, e.lastSeen = now, now
		e.failures, e.nextAttempt = 0, time.Time{}
		if sameAddr(e.addr, dialed) {
			e.unverified = false
		}
		b.schedule(e, now)
		b.moveToTried(e, now)
		b.touch()
	})
}

// sameAddr reports whether a and b name the same host and port: IP
// literals compare as IPs (an IPv4-mapped IPv6 address is its IPv4
// address), names as strings, case-insensitively.
func sameAddr(a, b crypto.Address) bool {
	if a.Port != b.Port {
		return false
	}
	ia, errA := netip.ParseAddr(a.Host)
	ib, errB := netip.ParseAddr(b.Host)
	if errA == nil && errB == nil {
		return ia.Unmap() == ib.Unmap()
	}
	return errA != nil && errB != nil && strings.EqualFold(a.Host, b.Host)
}

// MarkRefused records that the peer was reached but refused us for want
// of room ("too many peers"): the address is good, so no failure counts
// and the entry keeps its table, but it is not picked again for
// RefusedBackoff (drawn from [d/2, d] like every backoff, so refused
// dialers do not return in step). It returns ErrUnknownPeer for an
// unknown ID.
func (b *Book) MarkRefused(id crypto.ID) error {
	return b.mark(id, func(e *entry, now time.Time) {
		e.lastSeen = now
		if next := now.Add(b.jitter(b.cfg.RefusedBackoff)); next.After(e.nextAttempt) {
			e.nextAttempt = next
		}
		b.schedule(e, now)
		b.touch()
	})
}

// MarkVerified records that addr was shown to answer with its ID other
// than by a dial of ours through the book (a dial-back verification): if
// the peer's entry still holds addr, it is no longer Unverified, and PEX
// may share it. It returns ErrUnknownPeer for an unknown ID.
func (b *Book) MarkVerified(addr crypto.Address) error {
	return b.mark(addr.ID, func(e *entry, _ time.Time) {
		if sameAddr(e.addr, addr) && e.unverified {
			e.unverified = false
			b.touch()
		}
	})
}

// MarkFailure records a failed dial to the peer: one more consecutive
// failure and a capped, jittered exponential backoff before the next pick.
// After Config.MaxFailures consecutive failures an unprotected entry is
// evicted, which MarkFailure reports. It returns ErrUnknownPeer for an
// unknown ID.
func (b *Book) MarkFailure(id crypto.ID) (evicted bool, err error) {
	err = b.mark(id, func(e *entry, now time.Time) {
		b.touch()
		e.lastAttempt = now
		if e.failures < b.cfg.MaxFailures {
			e.failures++
		}
		if e.failures >= b.cfg.MaxFailures && !e.protected {
			b.evict(e)
			evicted = true
			return
		}
		e.nextAttempt = now.Add(b.backoff(e.failures))
		b.schedule(e, now)
	})
	return evicted, err
}

// backoff returns the delay after n consecutive failures: BackoffBase
// doubled n-1 times, capped at BackoffCap, then drawn uniformly from
// [d/2, d] so peers that failed together do not retry together.
func (b *Book) backoff(n int) time.Duration {
	d := b.cfg.BackoffBase
	for i := 1; i < n && d < b.cfg.BackoffCap; i++ {
		d *= 2
	}
	return b.jitter(min(d, b.cfg.BackoffCap))
}

// jitter draws a delay uniformly from [d/2, d].
func (b *Book) jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + time.Duration(b.mu.rng.Int64N(int64(d-half)+1))
}

// SetMeta records the peer's handshake metadata. Call it only with the
// PeerMeta of an authenticated handshake with that peer. It returns
// ErrUnknownPeer for an unknown ID.
func (b *Book) SetMeta(id crypto.ID, meta *pb.PeerMeta) error {
	m := MetaFromPB(meta)
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.mu.byID[id]
	if !ok {
		return ErrUnknownPeer
	}
	e.meta = m
	b.touch()
	return nil
}
