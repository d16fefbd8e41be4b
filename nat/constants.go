package nat

import "time"

// Defaults and limits of port mapping, with their units and reasons.
const (
	// DefaultLease is the lease asked of the gateway for a mapping: 20
	// minutes. Short enough that a mapping left behind by a crashed node
	// expires soon; long enough that renewals (at half the lease) are rare.
	DefaultLease = 20 * time.Minute
	// minLease is the shortest lease the mapper renews on: a gateway that
	// grants less (or answers 0 for "permanent" in UPnP) is renewed every
	// minLease/2, so a misbehaving gateway cannot make it spin.
	minLease = 2 * time.Minute

	// DefaultRequestTimeout bounds one request to a gateway (SOAP call or
	// NAT-PMP round trip, retries included): 5 s is far above a LAN's
	// round trip and short enough that Close is not held up for long.
	DefaultRequestTimeout = 5 * time.Second
	// DefaultDiscoverTimeout bounds one SSDP search: routers answer within
	// the 2 s MX window goupnp asks for; 3 s leaves room for slow ones.
	DefaultDiscoverTimeout = 3 * time.Second

	// DefaultMinBackoff is the wait after the first failure before the
	// gateway is discovered again: 5 s lets a rebooting router settle.
	DefaultMinBackoff = 5 * time.Second
	// DefaultMaxBackoff caps the doubling wait between failed attempts:
	// 5 minutes, so a node behind a router without UPnP asks at most 12
	// times an hour, and one whose router came back is mapped within 5 min.
	DefaultMaxBackoff = 5 * time.Minute

	// DefaultDescription names the mapping in the router's table.
	DefaultDescription = "peerwire"

	// pmpPort is the UDP port NAT-PMP gateways listen on (RFC 6886 §3).
	pmpPort = 5351
	// maxRouteFile bounds how much of /proc/net/route is read: a routing
	// table of a few thousand entries is under 1 MiB.
	maxRouteFile = 1 << 20
)
