package peerbook

import (
	"fmt"
	"net/netip"
	"time"
)

// Local-network (mDNS) entries: their admission rules, and their expiry
// when the node stops hearing of them.

// checkLocal applies the rules for a local-network address (SourceLocal):
// checkHost's, except that a private IP is admitted without
// Config.AllowPrivate (a LAN is what mDNS finds), and Deps.Filter's
// AllowPEX for an IP.
func (b *Book) checkLocal(host string, ip netip.Addr) IgnoreReason {
	if !ip.IsValid() {
		return b.checkHost(host, ip)
	}
	if r := b.checkLocalIP(ip); r != ignoreNone {
		return r
	}
	if b.deps.Filter != nil {
		if ok, _ := b.deps.Filter.AllowPEX(ip); !ok {
			return IgnoreFiltered
		}
	}
	return ignoreNone
}

func (b *Book) checkLocalIP(ip netip.Addr) IgnoreReason {
	if ip.Unmap().IsPrivate() {
		return ignoreNone
	}
	return b.checkIP(ip)
}

// CheckLocalIP is CheckIP for an address found on the local network
// (SourceLocal): a private address is admitted without AllowPrivate. The
// node applies it before dialing a local entry.
func (b *Book) CheckLocalIP(ip netip.Addr) error {
	if !ip.IsValid() {
		return fmt.Errorf("%w: invalid IP", ErrInvalidAddress)
	}
	return b.checkLocalIP(ip).err()
}

// ExpireLocal removes the entries with a local source (SourceLocal) that
// were neither re-added (heard of again on the local network) nor reached
// within maxAge, and returns how many. The mDNS discovery calls it after
// each round of queries, so a node that stopped answering leaves the book
// a few rounds later. It is O(number of local entries).
func (b *Book) ExpireLocal(maxAge time.Duration) int {
	now := b.deps.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, e := range b.mu.local {
		last := e.lastSeen
		if e.lastSuccess.After(last) {
			last = e.lastSuccess
		}
		if now.Sub(last) > maxAge {
			b.evict(e)
			n++
		}
	}
	if n > 0 {
		b.touch()
	}
	return n
}
