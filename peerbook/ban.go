package peerbook

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// Ban is one ban in force, by peer ID or by IP (the other is zero).
type Ban struct {
	ID     crypto.ID
	IP     netip.Addr
	Until  time.Time
	Reason string
}

type banInfo struct {
	until  time.Time
	reason string
}

// Ban bans the peer for d (0 < d <= MaxBanDuration) with a reason (cut to
// 256 bytes). A ban never shortens an existing one. A banned peer stays in
// the book but is not picked, not shared, and not re-added. Ban returns
// ErrTooManyBans if MaxBans ID bans are in force and none ends before this
// one, else nil.
func (b *Book) Ban(id crypto.ID, d time.Duration, reason string) error {
	if err := checkBanDuration(d); err != nil {
		return err
	}
	now := b.cfg.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	return addBan(b.mu.bans, id, banInfo{now.Add(d), truncate(reason, maxReasonLen)}, now, b.touch)
}

// BanIP bans every address with ip (IPv4-mapped IPv6 counts as IPv4) for d,
// like Ban.
func (b *Book) BanIP(ip netip.Addr, d time.Duration, reason string) error {
	if !ip.IsValid() {
		return fmt.Errorf("%w: invalid IP", ErrInvalidAddress)
	}
	if err := checkBanDuration(d); err != nil {
		return err
	}
	now := b.cfg.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	return addBan(b.mu.ipBans, normIP(ip), banInfo{now.Add(d), truncate(reason, maxReasonLen)}, now, b.touch)
}

func checkBanDuration(d time.Duration) error {
	if d <= 0 || d > MaxBanDuration {
		return fmt.Errorf("peerbook: ban duration %v is outside (0, %v]", d, MaxBanDuration)
	}
	return nil
}

func normIP(ip netip.Addr) netip.Addr { return ip.Unmap().WithZone("") }

// addBan adds or extends a ban in m, keeping m within MaxBans: at the cap it
// drops expired bans, then the one ending first if it ends before the new
// one. That scan is O(MaxBans) and only happens at the cap.
func addBan[K comparable](m map[K]banInfo, k K, ban banInfo, now time.Time, touch func()) error {
	if old, ok := m[k]; ok {
		if old.until.After(ban.until) {
			ban.until = old.until
		}
		m[k] = ban
		touch()
		return nil
	}
	if len(m) >= MaxBans {
		pruneBans(m, now)
	}
	if len(m) >= MaxBans {
		var first K
		var firstUntil time.Time
		for k, v := range m {
			if firstUntil.IsZero() || v.until.Before(firstUntil) {
				first, firstUntil = k, v.until
			}
		}
		if !firstUntil.Before(ban.until) {
			return ErrTooManyBans
		}
		delete(m, first)
	}
	m[k] = ban
	touch()
	return nil
}

func pruneBans[K comparable](m map[K]banInfo, now time.Time) {
	for k, v := range m {
		if !v.until.After(now) {
			delete(m, k)
		}
	}
}

// Unban lifts the peer's ban and reports whether there was one.
func (b *Book) Unban(id crypto.ID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.mu.bans[id]
	delete(b.mu.bans, id)
	if ok {
		b.touch()
	}
	return ok
}

// UnbanIP lifts the ban on ip and reports whether there was one.
func (b *Book) UnbanIP(ip netip.Addr) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	ip = normIP(ip)
	_, ok := b.mu.ipBans[ip]
	delete(b.mu.ipBans, ip)
	if ok {
		b.touch()
	}
	return ok
}

// IsBanned reports whether the peer is banned now.
func (b *Book) IsBanned(id crypto.ID) bool {
	now := b.cfg.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	ban, ok := b.mu.bans[id]
	return ok && ban.until.After(now)
}

// IsIPBanned reports whether ip is banned now.
func (b *Book) IsIPBanned(ip netip.Addr) bool {
	now := b.cfg.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	ban, ok := b.mu.ipBans[normIP(ip)]
	return ok && ban.until.After(now)
}

// Bans lists the bans in force, ID bans first, in no particular order
// within each kind. It is O(number of bans).
func (b *Book) Bans() []Ban {
	now := b.cfg.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Ban, 0, len(b.mu.bans)+len(b.mu.ipBans))
	for id, v := range b.mu.bans {
		if v.until.After(now) {
			out = append(out, Ban{ID: id, Until: v.until, Reason: v.reason})
		}
	}
	for ip, v := range b.mu.ipBans {
		if v.until.After(now) {
			out = append(out, Ban{IP: ip, Until: v.until, Reason: v.reason})
		}
	}
	return out
}

// isBannedLocked reports whether id or ip (if valid) is banned at now.
func (b *Book) isBannedLocked(id crypto.ID, ip netip.Addr, now time.Time) bool {
	if len(b.mu.bans) > 0 {
		if ban, ok := b.mu.bans[id]; ok && ban.until.After(now) {
			return true
		}
	}
	if ip.IsValid() && len(b.mu.ipBans) > 0 {
		if ban, ok := b.mu.ipBans[ip]; ok && ban.until.After(now) {
			return true
		}
	}
	return false
}

func (b *Book) bannedLocked(e *entry, now time.Time) bool {
	return b.isBannedLocked(e.addr.ID, e.ip, now)
}
