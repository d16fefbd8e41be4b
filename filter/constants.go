package filter

import "time"

// Defaults used when the matching Config field is zero. Each is a limit an
// operator can raise or lower; the comment says why the default is what it is.
const (
	// DefaultMaxPerIP is the number of connected peers allowed from one IP
	// address. Several honest nodes can share one address behind a NAT or on
	// one multi-tenant host; more than a handful from one address is far
	// more often one operator trying to take many slots.
	DefaultMaxPerIP = 4

	// DefaultMaxPerSubnet is the number of connected peers allowed from one
	// subnet (see DefaultIPv4SubnetBits and DefaultIPv6SubnetBits). A /24 or
	// a /48 is usually one hosting customer or one site; eight out of a few
	// dozen peers keeps any one of them to a minority share.
	DefaultMaxPerSubnet = 8

	// DefaultIPv4SubnetBits is the IPv4 prefix length, in bits, that groups
	// addresses for the subnet cap: /24, the smallest block routed on the
	// public Internet.
	DefaultIPv4SubnetBits = 24

	// DefaultIPv6SubnetBits is the IPv6 prefix length, in bits, that groups
	// addresses for the subnet cap: /48, the usual assignment to one site,
	// so a host cannot escape the cap by hopping across its /64s.
	DefaultIPv6SubnetBits = 48

	// DefaultAttemptInterval is the steady-state spacing of inbound
	// connection attempts allowed from one IP address: one every 2 s. An
	// honest peer reconnects a few times a minute at most.
	DefaultAttemptInterval = 2 * time.Second

	// DefaultAttemptBurst is the number of inbound attempts one IP address
	// may make back to back before DefaultAttemptInterval applies: enough
	// for a restart plus a simultaneous-dial race.
	DefaultAttemptBurst = 4

	// DefaultMaxTrackedIPs bounds the number of IP addresses the attempt
	// throttle remembers (about 150 bytes each, so ~2.5 MiB at the default).
	// When the table is full, idle entries are dropped first, then an
	// arbitrary one, so an attacker with many addresses cannot grow memory.
	DefaultMaxTrackedIPs = 16384

	// DefaultCountryCacheSize bounds the number of address → country
	// results cached per loaded database (about 64 bytes each, ~0.5 MiB),
	// because a database lookup allocates and Check should not.
	DefaultCountryCacheSize = 8192

	// DefaultDBCheckInterval is how often the country database file is
	// polled (one stat call) for a change of size or modification time.
	// Published databases change at most a few times a week.
	DefaultDBCheckInterval = time.Minute
)

// Bounds on operator input, checked by New.
const (
	// MinDBCheckInterval is the shortest accepted Config.DBCheckInterval.
	// Polling faster buys nothing and races writers that replace the file
	// in place.
	MinDBCheckInterval = time.Second

	// MaxDBSize bounds the size, in bytes, of a country database file read
	// into memory: 256 MiB. Country databases are well under 20 MiB and
	// even city databases stay under this bound.
	MaxDBSize = 256 << 20

	// MaxListEntries bounds the entries in each CIDR or country list, so a
	// mistaken configuration (a pasted file of millions of lines) fails at
	// start instead of exhausting memory.
	MaxListEntries = 1 << 16

	// MaxCap bounds MaxPerIP and MaxPerSubnet: counts are kept in int32.
	MaxCap = 1 << 30

	// MaxAttemptBurst bounds AttemptBurst.
	MaxAttemptBurst = 1 << 16

	// MaxTrackedIPsLimit bounds MaxTrackedIPs (about 150 MiB of throttle
	// state at the limit).
	MaxTrackedIPsLimit = 1 << 20

	// MaxCountryCacheSize bounds CountryCacheSize.
	MaxCountryCacheSize = 1 << 20
)

// Internal constants.
const (
	// cacheShardBits gives cacheShards, the number of independently locked
	// parts of the country cache: 16, a few times the usual core count.
	cacheShardBits = 4
	cacheShards    = 1 << cacheShardBits

	// numCountries is the number of two-letter codes A–Z × A–Z.
	numCountries = 26 * 26
)
