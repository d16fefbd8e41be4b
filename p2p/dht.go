package p2p

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/discovery/dht"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
)

// DHTTopic is the request/response topic the node declares for the DHT
// (docs/PROTOCOL.md §10) when Config.DHT is on; application topics may
// not use it then.
const DHTTopic uint8 = 254

// DHTMode says whether the node runs the DHT, and how. It is a
// deliberate superset of dht.Mode, not a copy: DHTOff, its zero value,
// keeps the DHT off by default, which dht.Mode (whose zero value is
// ModeAuto, for a DHT that exists) cannot say; startDHT maps the other
// three onto dht.Mode.
type DHTMode uint8

// DHT modes. The zero value is DHTOff.
const (
	// DHTOff: no DHT (the default).
	DHTOff DHTMode = iota
	// DHTClient: lookups only; the node answers no query and enters no
	// other node's table.
	DHTClient
	// DHTServer: lookups, and answers to other nodes' queries.
	DHTServer
	// DHTAuto follows the node's reachability verdict (Reachability):
	// server while it is public (its record advertising the verified
	// addresses), client while it is private; while it is unknown (before
	// the first check, or with too few peers in distinct groups to decide,
	// as on a LAN) server when the node advertises a routable address (or
	// one the book's AllowLoopback / AllowPrivate allow), else client.
	DHTAuto
)

var dhtModeNames = [...]string{"off", "client", "server", "auto"}

// String returns "off", "client", "server" or "auto".
func (m DHTMode) String() string {
	if int(m) < len(dhtModeNames) {
		return dhtModeNames[m]
	}
	return fmt.Sprintf("dht-mode(%d)", uint8(m))
}

// ParseDHTMode parses "off", "client", "server" or "auto".
func ParseDHTMode(s string) (DHTMode, error) {
	for i, n := range dhtModeNames {
		if n == s {
			return DHTMode(i), nil
		}
	}
	return 0, fmt.Errorf("DHT mode %q: want off, client, server or auto", s)
}

// DHTConfig configures the node's DHT. The zero value is off.
type DHTConfig struct {
	// Mode is off (the default), client, server or auto.
	Mode DHTMode
	// Exempt lists prefixes whose addresses the table's IP diversity
	// bounds do not count (a LAN the operator trusts). Nothing is exempt
	// by default, not even loopback or private addresses.
	Exempt []netip.Prefix
	// QueryTimeout bounds one DHT query, a transient dial included
	// (default dht.DefaultQueryTimeout).
	QueryTimeout time.Duration
}

// dhtTopic is the topic the node declares for the DHT.
func dhtTopic() TopicConfig {
	return TopicConfig{
		TopicConfig: mux.TopicConfig{ID: DHTTopic, Name: "dht", MaxMessageSize: dht.MaxMessageSize},
		Requests:    &RequestConfig{MaxRequestSize: dht.MaxMessageSize, MaxResponseSize: dht.MaxMessageSize, Timeout: dht.DefaultQueryTimeout},
	}
}

// withDHTTopic returns c's topics with the DHT's added when the DHT is on,
// or an error when an application topic takes its ID (reserved whether or
// not the DHT is on, so turning it on never clashes with a topic in use).
func (c *Config) withDHTTopic() ([]TopicConfig, error) {
	for i, t := range c.Topics {
		if t.ID == DHTTopic {
			return nil, fieldErr(fmt.Sprintf("Topics[%d].ID", i), "%d: application topics are 1-252 (253, 254 and 255 are the node's)", t.ID)
		}
	}
	if c.DHT.Mode == DHTOff {
		return c.Topics, nil
	}
	if c.DHT.Mode > DHTAuto {
		return nil, fieldErr("DHT.Mode", "%d unknown", c.DHT.Mode)
	}
	if c.DHT.QueryTimeout < 0 {
		return nil, fieldErr("DHT.QueryTimeout", "%v is negative", c.DHT.QueryTimeout)
	}
	return append(append([]TopicConfig(nil), c.Topics...), dhtTopic()), nil
}

// DHTStats is the DHT's state and counters (Stats.DHT); Mode "off" and
// zeros when it is off.
type DHTStats struct {
	Mode string
	dht.Stats
	// TransientDials counts connections dialed only for a DHT query;
	// BookAdded the records found that the book took.
	TransientDials, BookAdded uint64
	// TransientEvictions counts idle transient connections, either
	// direction, closed at the cap (peerset.MaxTransient) to admit a
	// newer one (transient.go).
	TransientEvictions uint64
}

// DHTStats returns the DHT's counters.
func (n *Node) DHTStats() DHTStats {
	d := n.dht.Load()
	if d == nil {
		return DHTStats{Mode: DHTOff.String()}
	}
	st := d.Stats()
	return DHTStats{Mode: st.Mode.String(), Stats: st, TransientDials: n.st.dhtDials.Load(),
		BookAdded: n.st.dhtBookAdded.Load(), TransientEvictions: n.st.dhtEvicted.Load()}
}

// DHT returns the node's DHT, nil when Config.DHT is off or before Start.
func (n *Node) DHT() *dht.DHT { return n.dht.Load() }

// startDHT creates and starts the DHT when Config.DHT is on: its queries
// ride the node's connections (dhtTransport), its answers the DHT topic's
// request handler, its findings the book (source dht).
func (n *Node) startDHT() error {
	dc := n.s.DHT
	if dc.Mode == DHTOff {
		return nil
	}
	var addrs []netip.AddrPort
	for _, a := range n.s.advertise {
		if ap, err := netip.ParseAddrPort(a); err == nil && len(addrs) < dht.MaxRecordAddrs {
			addrs = append(addrs, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		}
	}
	var boot []crypto.Address
	for _, a := range n.s.bootstrap {
		if !a.ID.IsZero() {
			boot = append(boot, a)
		}
	}
	mode := map[DHTMode]dht.Mode{DHTClient: dht.ModeClient, DHTServer: dht.ModeServer, DHTAuto: dht.ModeAuto}[dc.Mode]
	d, err := dht.New(dht.Config{
		Identity: n.id, Network: n.s.NetworkID, Transport: dhtTransport{n},
		Mode: mode, Addrs: addrs, Bootstrap: boot, BootstrapFunc: n.dhtPinnedBootstrap,
		// The /16 cap groups addresses as the book does (Book.IPv4GroupBits,
		// IPv6GroupBits; 0 is the same default in both).
		Limits:    dht.Limits{Exempt: dc.Exempt, IPv4GroupBits: n.s.Book.IPv4GroupBits, IPv6GroupBits: n.s.Book.IPv6GroupBits},
		AllowAddr: n.dhtAllowAddr,
		OnBadAnswer: func(id crypto.ID, err error) {
			if pc, e := n.peerConn(id); e == nil {
				n.malformed(pc, err.Error())
			}
		},
		OnFound:      n.dhtFound,
		QueryTimeout: dc.QueryTimeout,
		Clock:        n.s.Clock,
	})
	if err != nil {
		return fmt.Errorf("p2p: Config.DHT: %w", err)
	}
	n.dht.Store(d)
	if dc.Mode != DHTClient { // auto may switch to server at any time
		if err := n.HandleRequests(DHTTopic, func(ctx context.Context, from crypto.ID, req []byte) ([]byte, error) {
			resp, err := d.Handle(ctx, from, req)
			if errors.Is(err, dht.ErrBadMessage) || errors.Is(err, dht.ErrBadRecord) {
				// Priced like any malformed message (peerset.EventInvalidMessage).
				if pc, e := n.peerConn(from); e == nil {
					n.malformed(pc, err.Error())
				}
			}
			return resp, err
		}); err != nil {
			return err
		}
	}
	n.syncDHT()
	d.Start()
	n.log.Info("DHT started", "mode", d.Stats().Mode.String(), "bootstrap", len(boot))
	return nil
}

// dhtPinnedBootstrap returns the bootstrap entries configured without an
// ID (host:port) whose ID our dial has since learned and pinned in the
// book (dialConn), for the DHT to start from as from the ID@host:port
// ones. The book is read only while there is such an entry.
func (n *Node) dhtPinnedBootstrap() []crypto.Address {
	var plain []crypto.Address
	for _, a := range n.s.bootstrap {
		if a.ID.IsZero() {
			plain = append(plain, a)
		}
	}
	if len(plain) == 0 {
		return nil
	}
	var out []crypto.Address
	for _, e := range n.book.Entries() {
		if e.Source.Kind == peerbook.SourceBootstrap && slices.ContainsFunc(plain, func(a crypto.Address) bool {
			return a.Host == e.Addr.Host && a.Port == e.Addr.Port
		}) {
			out = append(out, e.Addr)
		}
	}
	return out
}

// syncDHT brings the DHT in line with the node's reachability and
// advertised addresses: its record advertises the verified addresses
// while the verdict is public, else the advertised ones, and in auto mode
// it serves while the verdict is public, stays a client while it is
// private, and while it is unknown serves when an advertised address is
// one dhtAllowAddr allows (the guess dht.ModeAuto starts from). It is
// called when the verdict or the advertised addresses change
// (reachability.go) and does nothing while the DHT is off.
func (n *Node) syncDHT() {
	d := n.dht.Load()
	if d == nil {
		return
	}
	n.dhtSync.Lock() // each call reads the latest state, so the last applied is current
	defer n.dhtSync.Unlock()
	r := n.Reachability()
	src := n.AdvertisedAddrs()
	if r.Verdict == ReachPublic {
		src = r.Verified
	}
	var addrs []netip.AddrPort
	for _, a := range src {
		if ap, ok := a.AddrPort(); ok && len(addrs) < dht.MaxRecordAddrs {
			ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			if !slices.Contains(addrs, ap) {
				addrs = append(addrs, ap)
			}
		}
	}
	// The addresses first, so a node turning server signs its first
	// server record with them.
	if err := d.SetAddrs(addrs); err != nil {
		n.log.Warn("DHT record not updated", "err", err)
	}
	if n.s.DHT.Mode == DHTAuto {
		server := r.Verdict == ReachPublic
		if r.Verdict == ReachUnknown {
			server = slices.ContainsFunc(addrs, n.dhtAllowAddr)
		}
		if server != d.Server() {
			n.log.Info("DHT mode changed", "server", server, "reachability", r.Verdict.String())
		}
		if err := d.SetServer(server); err != nil {
			n.log.Warn("DHT mode not changed", "err", err)
		}
	}
}

// stopDHT stops the DHT and waits for its queries.
func (n *Node) stopDHT() {
	if d := n.dht.Load(); d != nil {
		d.Stop()
	}
}

// dhtAllowAddr decides whether an address a DHT record carries may be
// dialed: the book's routability rules, the filter's rules for learned
// addresses, and the IP bans.
func (n *Node) dhtAllowAddr(ap netip.AddrPort) bool {
	ip := ap.Addr()
	if n.book.CheckIP(ip) != nil {
		return false
	}
	if ok, _ := (bookFilter{n.filter}).AllowPEX(ip); !ok {
		return false
	}
	return !n.book.IsIPBanned(ip)
}

// dhtFound puts what a lookup found into the book, source dht, under the
// PEX checks; the DHT never adds peers to the peer set itself.
func (n *Node) dhtFound(recs []*dht.Record) {
	for _, r := range recs {
		for _, ap := range r.Addrs {
			if !n.dhtAllowAddr(ap) {
				continue
			}
			a := crypto.Address{ID: r.ID, Host: ap.Addr().String(), Port: ap.Port()}
			if _, known := n.book.Get(r.ID); known {
				break
			}
			if err := n.book.AddDHT(a); err == nil {
				n.st.dhtBookAdded.Add(1)
				break
			}
		}
	}
}

// dhtTransport carries the DHT's queries: over our outbound connection
// to the peer if we dialed it at the queried address, else over a
// connection dialed for the query (through the node's checks: filters,
// bans, routability, caps, dial rate and concurrency). An answer enters
// the node in the table at that address (dht.Transport's contract), so an
// inbound connection, or one we dialed to another address, never carries
// a query: its answer would prove nothing about the address.
//
// Such a transient connection (transient.go) is marked so in its
// SETTINGS: neither side counts it against its peer limits or lists it as
// a peer, and it carries only DHT traffic. Later queries to the node at
// the same address reuse it; it closes after TransientIdleTimeout without
// one.
type dhtTransport struct{ n *Node }

// Request implements dht.Transport.
func (t dhtTransport) Request(ctx context.Context, to crypto.Address, req []byte) ([]byte, error) {
	n := t.n
	if ap, ok := to.AddrPort(); ok {
		if pc, err := n.peerConn(to.ID); err == nil && pc.dir == peerset.Outbound && pc.remote == ap {
			// On this connection, the one just checked: looking the peer
			// up again could find another (an inbound one) by then.
			return n.requestOn(ctx, n.topics[DHTTopic], pc, req)
		}
		// begin keeps it from eviction while the query is in flight; an
		// evicted one makes way for a new dial.
		if pc := n.transientFor(to.ID); pc != nil && pc.remote == ap && pc.tr.begin(n.s.Now()) {
			resp, err := n.requestOn(ctx, n.topics[DHTTopic], pc, req)
			n.endTransient(pc)
			if err == nil || ctx.Err() != nil || !connGone(err) {
				return resp, err
			}
			// The connection ended under the query, most often because
			// the far end evicted it as idle at its cap just as we took
			// it up again: that says nothing of the node, so ask again
			// over a new dial (DHT queries are idempotent) rather than
			// have the DHT count the node as failed.
		}
	}
	if !n.enter() {
		return nil, errStopped
	}
	defer n.wg.Done()
	// A dial refused before it starts (a ban, a filter) is refused now,
	// before it takes a slot: it must not evict a connection for room.
	check := dialCheck{origin: byNetwork, transient: true}
	if _, err := n.precheckDial(ctx, to, check); err != nil {
		return nil, err
	}
	// A slot first: waiting for one is better than a dial that our own
	// cap refuses after its handshake, and a wait that runs out sends
	// nothing the DHT could hold against the node (reserveTransient).
	release, err := n.reserveTransient(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	// A transient dial takes no in-flight mark (dialConn), so it never
	// meets ErrConnected, and its connection is always a transient one.
	pc, err := n.dialConn(ctx, to, check)
	release() // admitted, the connection holds its own slot
	if errors.Is(err, errDialNotStarted) {
		// Our own dial limits held it until the query's time ran out:
		// nothing reached the node.
		return nil, fmt.Errorf("%w: %w", dht.ErrNotSent, err)
	}
	if err != nil {
		return nil, err
	}
	if pc.tr != nil { // admitted busy with this query (admitTransient)
		defer n.endTransient(pc)
	}
	n.st.dhtDials.Add(1)
	return n.requestOn(ctx, n.topics[DHTTopic], pc, req)
}

// endTransient ends a query of ours on pc, a transient connection, and
// wakes the queries waiting for an outbound slot, which pc may now give.
func (n *Node) endTransient(pc *peerConn) {
	pc.tr.end(n.s.Now())
	n.transientFreed()
}

// connGone reports whether err is a request's failure because its
// connection ended (closed by either side) before the answer came.
func connGone(err error) bool {
	return errors.Is(err, ErrUnknownPeer) || errors.Is(err, mux.ErrClosed)
}
