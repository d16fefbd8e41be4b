package dht

import "time"

// Protocol and table bounds. The wire format depends on the Max values
// (docs/PROTOCOL.md §10); the others are defaults of Config.
const (
	// BucketSize (Kademlia's k) is how many entries one bucket holds and
	// how many closest nodes a lookup returns: 20, as in the Kademlia
	// paper, so a bucket rarely overflows before the nodes closest to us do.
	BucketSize = 20
	// MaxBucketSize bounds a bucket that takes nodes beyond BucketSize
	// because they are among our BucketSize closest (Table.Add).
	MaxBucketSize = 2 * BucketSize
	// IDBits is the number of buckets: one per bit of a peer ID.
	IDBits = 160
	// Alpha is how many queries a lookup keeps in flight.
	Alpha = 3
	// ReplacementSize bounds a bucket's replacement cache: verified nodes
	// waiting for a slot, newest first.
	ReplacementSize = 10

	// MaxRecordSize bounds an encoded self-record, in bytes.
	MaxRecordSize = 300
	// MaxRecordAddrs bounds the addresses of one record (8 IPv6
	// addresses and the rest fit MaxRecordSize).
	MaxRecordAddrs = 8
	// MaxNodes bounds the records of one NODES message.
	MaxNodes = BucketSize
	// MaxMessageSize bounds one encoded message, in bytes: a NODES message
	// with the responder's record and MaxNodes others.
	MaxMessageSize = 3 + (MaxNodes+1)*(2+MaxRecordSize)

	// DefaultPerBucket24 is how many entries of one IPv4 /24 (IPv6 /48)
	// one bucket admits (geth discv5's bound).
	DefaultPerBucket24 = 2
	// DefaultPerTable24 is how many entries of one IPv4 /24 (IPv6 /48)
	// the whole table admits (geth discv5's bound).
	DefaultPerTable24 = 10
	// DefaultPerTableGroup is how many entries of one peer-book network
	// group (IPv4 /16, IPv6 /32: peerbook.DefaultIPv4GroupBits and
	// DefaultIPv6GroupBits unless Limits.IPv4GroupBits and IPv6GroupBits
	// say otherwise; p2p sets them from its book's) the whole table admits.
	DefaultPerTableGroup = 16
	// DefaultResultPerGroup is how many nodes of one /24 (/48), and of one
	// /16 (/32), a lookup's BucketSize results hold: 1, so an attacker
	// holding one /16 holds at most 1 in 20 (5%) of any lookup's results.
	DefaultResultPerGroup = 1
	// DefaultMaxCandidates bounds the contacts (inbound queriers) waiting
	// to be verified by an outbound ping.
	DefaultMaxCandidates = 64

	// DefaultQueryTimeout is how long one lookup query waits for its
	// answer: short, so a non-responder costs little.
	DefaultQueryTimeout = 2 * time.Second
	// DefaultRevalidateInterval is how often one table entry (the least
	// recently seen of a random bucket) is pinged, and one candidate.
	DefaultRevalidateInterval = 5 * time.Second
	// DefaultRefreshInterval is how often every bucket is refreshed by a
	// lookup of a random ID in its range (and the node looks itself up).
	DefaultRefreshInterval = 10 * time.Minute
	// DefaultMaxFailures is how many consecutive failed pings remove an
	// entry (its replacement, if any, takes the slot).
	DefaultMaxFailures = 2
	// MaxNodesScan bounds the closest entries a NODES answer looks
	// through to find MaxNodes that fit the result diversity bounds.
	MaxNodesScan = 8 * BucketSize
	// MaxVerifying bounds the pings of inbound candidates in flight at
	// once; the others wait for revalidation.
	MaxVerifying = 4
	// MaxVerifiedCache bounds the verified records a node remembers (about
	// 300 B each, ~1.2 MB at most), so it checks each signature once.
	MaxVerifiedCache = 4096
	// MaxLookupQueries bounds the queries of one lookup, whatever the
	// answers say, so a lookup always ends.
	MaxLookupQueries = 64
)
