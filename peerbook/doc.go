// Package peerbook is peerwire's persistent book of known peers: where they
// are, where we heard of them, how dialing them went, and who is banned.
//
// # Shape
//
// Entries are keyed by peer ID. Ordinary entries live in two bounded tables
// of buckets, after Bitcoin's addrman: the new table holds addresses heard of
// but never reached, the tried table addresses we have connected to. An
// address's new bucket is chosen by a keyed hash of its network group (IPv4
// /16, IPv6 /32 or a DNS name's last two labels; configurable) and the group
// of whoever reported it, so all addresses of one group reported from one
// group share a single bucket, and one reporting group reaches at most
// NewBucketsPerSourceGroup buckets. A tried bucket is chosen by the
// address's group, which reaches at most TriedBucketsPerGroup buckets. The
// hash key is a random 32-byte secret saved with the book, so placement is
// stable across restarts and unpredictable to others. A newcomer takes a
// slot only if it is free or its holder is failing or stale; a report never
// changes the address of a peer the book already knows.
//
// Protected (must-connect) entries live outside the tables: they never
// compete for slots, are never evicted, and are left to the peer set to dial.
//
// # Selection
//
// Pick draws dial candidates from both tables with a configurable bias,
// skipping entries in backoff (kept in a heap, so they cost nothing),
// banned, filtered or excluded by the caller. AnswerPex draws a bounded
// sample spread across groups. DueForProbe lists entries for churn probes.
// All three cost the same with 10,000 or 100,000 entries.
//
// # Peer exchange
//
// MarkPexRequested records a request; IngestPex refuses a response nobody
// asked for, reads at most Config.MaxPexAddrs addresses, validates each
// (ID, host, port, routability, filter, self, bans) and reports what it did
// in a PexResult, so the node can reward or punish the sender. Nothing the
// sender might claim about a peer besides its address is read.
//
// An address a peer advertised for itself on an inbound connection is
// stored unverified (Entry.Unverified) and AnswerPex does not share it
// until MarkSuccess (a dial to it succeeded) or MarkVerified (a dial-back
// reached it) clears the flag.
//
// # Persistence
//
// Open loads a JSON file (format version FileVersion) and Save replaces it
// atomically, keeping the previous file as a backup; Run saves on an
// interval and Close saves at the end. A corrupt file is moved aside and
// reported, and the book starts from the backup or empty. Every size and
// count read from disk is bounded; nothing read panics.
//
// # Time and randomness
//
// The clock (Deps.Clock, an internal/clock.Clock) and randomness
// (Deps.Rand) are injected, so backoff, bans, expiry and the save interval
// can be tested without sleeping. Settings are in Config; what the book is
// wired to (its own ID, the filter, clock, randomness and logger) is in
// Deps, the second argument of New and Open.
//
// A Book is safe for concurrent use by multiple goroutines.
package peerbook
