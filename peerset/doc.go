// Package peerset keeps the book of connected peers and the policy around
// them: inbound and outbound limits, per-IP and per-subnet caps (through a
// Counter), outbound peers spread across network groups, must-connect peers
// with their redial schedule, duplicate-connection resolution, reputation
// with decay and bans, and trimming between watermarks.
//
// A Set does no I/O, starts no goroutine and reads no clock of its own
// beyond Deps.Clock: the Node (package p2p) calls it and acts on what it
// returns. Every *Peer the Set hands back for disconnection (a replaced
// duplicate, a Trim victim, a ban) has already been removed from it; the
// Node closes its connection with Peer.Disconnect and the reason given, and
// the Remove it calls when that connection ends is a harmless no-op.
//
// How the Node drives it:
//
//   - Accept: after the filter and the handshake, Admit(PeerInfo{Direction:
//     Inbound, ...}, now). On error, close the new connection with
//     ReasonOf(err). When replaced is not nil, close it with
//     replaced.Disconnect(ReasonDuplicate, ""). When the connection ends,
//     Remove(p).
//   - Dial: CheckDial(id, ip, now) before dialing a book entry; after the
//     handshake Admit(PeerInfo{Direction: Outbound, ...}, now) as above.
//   - Must-connect redial service: sleep until EarliestRedial(now), dial
//     every address DueRedials(now) returns; on any failure before Admit
//     succeeds, RedialFailed(id, now). A successful Admit resets the
//     backoff; Remove schedules the next attempt (at once after a connection
//     that lasted RedialStablePeriod, with backoff after a shorter one).
//   - Reputation: transport events go to Record(id, ev), the application's
//     reports to Report(id, delta, reason); a non-nil BanDecision means:
//     the Set has banned the ID in its BanList until Until; the Node calls
//     Peer.Disconnect(ReasonLowReputation, Reason). Operator bans go
//     through Ban; its returned Peer is closed with ReasonBanned.
//   - Timers: Decay(now) every DecayInterval, Trim(now) every TrimInterval
//     (victims closed with ReasonTrimmed).
//   - Stop: Close(), then Disconnect(ReasonShutdown, "") each peer it
//     returns.
//
// Duplicate connections: when a second connection to a connected peer
// arrives, both peers keep the same one without talking about it. Of two
// connections dialed by different sides, the one dialed by the peer with
// the lower ID (compared bytewise) survives; of two dialed by the same side,
// the newer. Both peers know both IDs and who dialed what, so the rule gives
// the same answer on each side whatever order the connections arrive in.
// One limitation: if the lower-ID node still holds a stale connection it
// dialed and the other node restarts and dials back, the new connection is
// refused as a duplicate until keepalive ends the stale one.
//
// Must-connect peers do not occupy inbound or outbound slots, so the node
// holds at most MaxInbound + MaxOutbound + the must-connect peers. They are
// never trimmed, never refused for slots, groups or caps, and never banned
// or disconnected for their score (which is still tracked); an explicit Ban
// does apply to them. The Node asks IsMustConnect to spare them from churn.
package peerset
