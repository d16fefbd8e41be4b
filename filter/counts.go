package filter

import (
	"net/netip"
	"sync"
)

// counts holds the connected peers per IP address and per subnet. Safe for
// concurrent use.
type counts struct {
	mu     sync.Mutex // protects the fields below
	ip     map[netip.Addr]int32
	subnet map[netip.Prefix]int32
	total  int
}

func newCounts() *counts {
	return &counts{ip: make(map[netip.Addr]int32), subnet: make(map[netip.Prefix]int32)}
}

// full reports which cap, if any, one more peer from a would exceed. A cap
// of 0 means none.
func (c *counts) full(a netip.Addr, sub netip.Prefix, maxIP, maxSub int32) Reason {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fullLocked(a, sub, maxIP, maxSub)
}

func (c *counts) fullLocked(a netip.Addr, sub netip.Prefix, maxIP, maxSub int32) Reason {
	if maxIP > 0 && c.ip[a] >= maxIP {
		return ReasonIPCap
	}
	if maxSub > 0 && c.subnet[sub] >= maxSub {
		return ReasonSubnetCap
	}
	return ReasonAllowed
}

// add counts one more peer from a unless that would exceed a cap (check
// false skips the caps). It returns ReasonAllowed when the peer was counted.
func (c *counts) add(a netip.Addr, sub netip.Prefix, maxIP, maxSub int32, check bool) Reason {
	c.mu.Lock()
	defer c.mu.Unlock()
	if check {
		if r := c.fullLocked(a, sub, maxIP, maxSub); r != ReasonAllowed {
			return r
		}
	}
	c.ip[a]++
	c.subnet[sub]++
	c.total++
	return ReasonAllowed
}

func (c *counts) remove(a netip.Addr, sub netip.Prefix) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.ip[a] - 1; n > 0 {
		c.ip[a] = n
	} else {
		delete(c.ip, a)
	}
	if n := c.subnet[sub] - 1; n > 0 {
		c.subnet[sub] = n
	} else {
		delete(c.subnet, sub)
	}
	c.total--
}

func (c *counts) stats() (total, ips, subnets int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total, len(c.ip), len(c.subnet)
}
