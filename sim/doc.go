// Package sim is the deterministic large-scale simulator of peerwire's
// peer discovery and peer selection (ARCHITECTURE §1): thousands of nodes
// in one process, each running the real peerbook.Book, peerset.Set and
// filter.Filter, on virtual time (one clock.Fake, moved by a discrete-event
// loop) over an in-memory transport whose latencies are drawn from a
// log-normal distribution. Same Config (and Seed), same Result.
//
// What is real and what is modelled:
//
//   - Real: the book (buckets, PEX validation in IngestPex, PEX answers in
//     AnswerPex, picks, backoff, probes), the fill decision
//     (Book.FillPicks, which p2p's fill calls too), the peer set
//     (admission, slot limits, one outbound peer per /16, must-connect
//     peers, reputation events for PEX, trimming) and the filter (per-IP
//     and per-subnet caps, the inbound attempt throttle).
//   - Modelled in this package, mirroring p2p's code paths: the order of
//     the dial checks (p2p checkTarget), PEX rounds and the ask on a new
//     outbound peer (p2p pexRound and onAdmitted), the PEX answer rate
//     limit, the maintain service, probes, what an inbound peer's advert
//     adds to the book, gossip flooding to every peer but the sender. The
//     handshake and the multiplexer are not run: a connection is one event
//     after a round trip.
//   - Attackers are scripted endpoints (they run no book): they accept
//     every connection, answer every PEX request with their own (or
//     non-existent) addresses and may dial victims to hold inbound slots.
//
// With Config.DHT, each honest node also runs the real discovery/dht.DHT
// (a server if it listens, a client behind NAT), built with the node's
// clock and a seeded dht.Config.Rand of its own at each start, and driven
// through dht's stepping API (sim/dht.go): each request is a dht.Call the
// event loop carries after the path's latency (and a dial when the two
// have no connection), answered by the target's real Handle; the node's
// maintain loop (bootstrap, revalidation, refresh) is mirrored as events,
// and what lookups find enters the book as source dht, as in p2p.
// Attacker identities are then DHT servers that answer with their own
// signed records. The outcomes are the attacker's share of honest table
// entries and of lookup results, and the probe lookups' recall and
// convergence time (docs/SIMULATION.md, The DHT).
package sim
