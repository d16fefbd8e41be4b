// Package mdns finds peerwire nodes on the local network with multicast
// DNS (RFC 6762) and DNS-SD (RFC 6763), using github.com/hashicorp/mdns.
//
// A Service answers queries for the node's service, _peerwire-<tag>._tcp
// in the local. domain, where <tag> is derived from the network ID (Tag),
// so two networks on one LAN never see each other's answers. The instance
// name is the node's ID in hex; the TXT record holds one "ID@host:port"
// string per advertised address (EncodeTXT). It also queries for the
// service every Config.Interval and hands each other node's answer, once
// decoded and checked (Decode: the service, the instance, the ID, the
// addresses), to Config.OnAnswer.
//
// What an answer says is a hint, not a fact: anyone on the LAN can send
// one. The node (p2p.Config.MDNS) stores hints in its peer book under the
// capped local source (peerbook.SourceLocal) and dials them only through
// its ID-pinned handshake, so a forged record naming another node's ID at
// the forger's address fails the handshake; hints are never re-shared
// through PEX, and a node that stops answering ages out of the book.
package mdns
