package p2p

import (
	"context"
	"net/netip"
)

// Resolver looks up the IP addresses of a DNS name. *net.Resolver
// implements it (net.DefaultResolver is the default); tests inject their
// own. Implementations must be safe for concurrent use and must return
// once ctx ends.
type Resolver interface {
	// LookupNetIP returns the addresses of host; network is "ip", "ip4"
	// or "ip6".
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}
