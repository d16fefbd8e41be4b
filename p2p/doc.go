// Package p2p is the node a blockchain application embeds: it listens and
// dials, admits peers through filters and the peer set, runs MultiConns over
// the secure channel, keeps the persistent peer book filled through peer
// exchange (PEX), redials must-connect peers, floods gossip with
// de-duplication, and delivers every message to one inbox per topic.
//
// A Node is made by New, started by Start and ended by Stop, which ends
// every goroutine it started and saves the peer book. All methods are safe
// for concurrent use.
package p2p
