package peerbook

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// Ban is one ban in force, by peer ID or by IP prefix (the other is zero).
// A ban of one address has a full-length Prefix (/32 or /128).
type Ban struct {
	ID     crypto.ID
	Prefix netip.Prefix
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
	now := b.deps.Clock.Now()
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
	ip = normIP(ip)
	return b.BanPrefix(netip.PrefixFrom(ip, ip.BitLen()), d, reason)
}

// BanPrefix bans every address inside p (IPv4-mapped IPv6 counts as IPv4)
// for d, like Ban. p is masked to its prefix; it must be at least
// MinBanPrefixBits4 bits long for IPv4 and MinBanPrefixBits6 for IPv6.
// Bans of different prefixes are independent: an address is banned while
// any prefix holding it is.
func (b *Book) BanPrefix(p netip.Prefix, d time.Duration, reason string) error {
	p, err := NormPrefix(p)
	if err != nil {
		return err
	}
	if err := checkBanDuration(d); err != nil {
		return err
	}
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	err = addBan(b.mu.ipBans, p, banInfo{now.Add(d), truncate(reason, maxReasonLen)}, now, b.touch)
	b.ipBanLensLocked()
	return err
}

// NormPrefix returns p as the book keeps it: an IPv4-mapped IPv6 prefix
// as IPv4, masked, without a zone. It refuses an invalid prefix and one
// broader than MinBanPrefixBits4 (IPv4) or MinBanPrefixBits6 (IPv6).
func NormPrefix(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() {
		return netip.Prefix{}, fmt.Errorf("%w: invalid IP prefix", ErrInvalidAddress)
	}
	addr, bits := p.Addr().WithZone(""), p.Bits()
	if addr.Is4In6() {
		if bits < 96 {
			return netip.Prefix{}, fmt.Errorf("%w: IPv4-mapped prefix %s is shorter than /96", ErrInvalidAddress, p)
		}
		addr, bits = addr.Unmap(), bits-96
	}
	if addr.Is4() && bits < MinBanPrefixBits4 || !addr.Is4() && bits < MinBanPrefixBits6 {
		return netip.Prefix{}, fmt.Errorf("%w: prefix %s is too broad to ban (at least /%d for IPv4, /%d for IPv6)",
			ErrInvalidAddress, p, MinBanPrefixBits4, MinBanPrefixBits6)
	}
	return netip.PrefixFrom(addr, bits).Masked(), nil
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

// UnbanIP lifts the ban on ip alone (not a broader prefix holding it) and
// reports whether there was one.
func (b *Book) UnbanIP(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = normIP(ip)
	return b.UnbanPrefix(netip.PrefixFrom(ip, ip.BitLen()))
}

// UnbanPrefix lifts the ban on exactly p and reports whether there was one.
func (b *Book) UnbanPrefix(p netip.Prefix) bool {
	p, err := NormPrefix(p)
	if err != nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.mu.ipBans[p]
	delete(b.mu.ipBans, p)
	if ok {
		b.ipBanLensLocked()
		b.touch()
	}
	return ok
}

// IsBanned reports whether the peer is banned now.
func (b *Book) IsBanned(id crypto.ID) bool {
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	ban, ok := b.mu.bans[id]
	return ok && ban.until.After(now)
}

// BannedUntil reports whether the peer is banned now and when that ban
// ends. With MaxBanDuration it makes the Book a peerset.BanList, the one
// store of bans the peer set asks.
func (b *Book) BannedUntil(id crypto.ID) (until time.Time, banned bool) {
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	ban, ok := b.mu.bans[id]
	if !ok || !ban.until.After(now) {
		return time.Time{}, false
	}
	return ban.until, true
}

// MaxBanDuration returns the package's MaxBanDuration, the longest ban Ban
// accepts.
func (b *Book) MaxBanDuration() time.Duration { return MaxBanDuration }

// IsIPBanned reports whether ip is banned now, alone or by a prefix.
func (b *Book) IsIPBanned(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ipBannedLocked(normIP(ip), now)
}

// Bans lists the bans in force, ID bans first, in no particular order
// within each kind. It is O(number of bans).
func (b *Book) Bans() []Ban {
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Ban, 0, len(b.mu.bans)+len(b.mu.ipBans))
	for id, v := range b.mu.bans {
		if v.until.After(now) {
			out = append(out, Ban{ID: id, Until: v.until, Reason: v.reason})
		}
	}
	for p, v := range b.mu.ipBans {
		if v.until.After(now) {
			out = append(out, Ban{Prefix: p, Until: v.until, Reason: v.reason})
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
	return ip.IsValid() && b.ipBannedLocked(ip, now)
}

// ipBannedLocked reports whether the normalised ip is inside a prefix
// banned at now. It looks up one prefix per length in use, so it costs at
// most 33 (IPv4) or 129 (IPv6) map lookups and usually one or two.
func (b *Book) ipBannedLocked(ip netip.Addr, now time.Time) bool {
	if len(b.mu.ipBans) == 0 {
		return false
	}
	lens := b.mu.ipBanLens6
	if ip.Is4() {
		lens = b.mu.ipBanLens4
	}
	for _, bits := range lens {
		p, err := ip.Prefix(int(bits))
		if err != nil {
			continue
		}
		if ban, ok := b.mu.ipBans[p]; ok && ban.until.After(now) {
			return true
		}
	}
	return false
}

// ipBanLensLocked recomputes the prefix lengths in use after ipBans
// changed. It is O(IP bans), and bans change rarely.
func (b *Book) ipBanLensLocked() {
	var seen4 [33]bool
	var seen6 [129]bool
	for p := range b.mu.ipBans {
		if p.Addr().Is4() {
			seen4[p.Bits()] = true
		} else {
			seen6[p.Bits()] = true
		}
	}
	b.mu.ipBanLens4, b.mu.ipBanLens6 = b.mu.ipBanLens4[:0], b.mu.ipBanLens6[:0]
	for i, ok := range seen4 {
		if ok {
			b.mu.ipBanLens4 = append(b.mu.ipBanLens4, uint8(i))
		}
	}
	for i, ok := range seen6 {
		if ok {
			b.mu.ipBanLens6 = append(b.mu.ipBanLens6, uint8(i))
		}
	}
}

func (b *Book) bannedLocked(e *entry, now time.Time) bool {
	return b.isBannedLocked(e.addr.ID, e.ip, now)
}

// ParseBanPrefix parses what an IP ban is written as: an address
// ("192.0.2.7", "2001:db8::1") for itself alone, or a CIDR prefix
// ("192.0.2.0/24"), and normalises it as NormPrefix does.
func ParseBanPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%w: %v", ErrInvalidAddress, err)
		}
		return NormPrefix(p)
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%w: %v", ErrInvalidAddress, err)
	}
	ip = normIP(ip)
	return NormPrefix(netip.PrefixFrom(ip, ip.BitLen()))
}

// banPrefixString writes p as ParseBanPrefix reads it: a single address
// without "/bits", so files stay readable by older versions.
func banPrefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}
