// Package dht is peerwire's Kademlia distributed hash table for finding
// peers: a routing table of peer IDs by XOR distance with IP diversity
// limits, iterative lookups, and signed self-records. It stores no
// arbitrary keys or values; the only records are each node's own
// {ID, addresses, roles, sequence number}, signed by its key.
//
// A node enters the table only after an outbound request to it succeeded
// over a connection the Transport dialed and authenticated (so it is
// proven reachable under its ID); nodes that contact us, and nodes other
// nodes report, are candidates until then. A full bucket never evicts an
// entry for a newcomer: the newcomer waits in the bucket's replacement
// cache, and an entry leaves only when revalidation, on its own schedule,
// finds it unresponsive.
//
// The package does not dial peers for the application and never touches
// the peer set: what lookups find is handed to Config.OnFound, which the
// node (package p2p) feeds into its peer book as one more source. Wire
// messages are specified in docs/PROTOCOL.md §10.
package dht
