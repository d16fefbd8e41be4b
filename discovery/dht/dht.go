package dht

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
)

// Mode says whether a node answers DHT queries.
type Mode uint8

// Modes. The zero value is ModeAuto.
const (
	// ModeAuto starts as ModeServer when one of Config.Addrs is routable
	// (or allowed by Config.AllowAddr), else as ModeClient: a guess that
	// the node corrects with SetServer once a dial-back has judged its
	// reachability (package p2p does).
	ModeAuto Mode = iota
	// ModeClient queries only: it answers no query and advertises no
	// record, so it never enters other nodes' tables.
	ModeClient
	// ModeServer queries and answers, and advertises its record.
	ModeServer
)

var modeNames = [...]string{"auto", "client", "server"}

// String returns "auto", "client" or "server".
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode parses "auto", "client" or "server".
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if n == s {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("dht: mode %q: want auto, client or server", s)
}

// Transport carries the DHT's requests. Request sends req to the node at
// to over a connection authenticated as to.ID and returns its answer. The
// DHT takes an answer as proof that the node is reachable at to (it enters
// the table there), so Request must carry it over a connection it dialed
// to to's address: one the peer dialed to us, or one dialed to another of
// its addresses, must not be used; Request dials one for the purpose
// (closed when idle) instead. The node that implements it passes the
// peers' requests to DHT.Handle. It must be safe for concurrent use.
//
// An error wrapping ErrNotSent says the request never left this node
// (no connection could be had for it here, such as every connection
// slot busy until ctx ended): the query has failed, but it says nothing
// about the node at to, so its table entry is not charged for it.
type Transport interface {
	Request(ctx context.Context, to crypto.Address, req []byte) ([]byte, error)
}

// ErrNotSent is what a Transport's error wraps when the request was never
// sent, for a reason of this node's own (Transport).
var ErrNotSent = errors.New("dht: request not sent")

// Config configures a DHT. The zero value of each optional field means
// its default.
type Config struct {
	// Identity signs the node's record. Required.
	Identity *crypto.Identity
	// Network is the network ID the records are signed for.
	Network string
	// Transport carries the queries. Required.
	Transport Transport
	// Mode is client, server or auto (the default).
	Mode Mode
	// Addrs are the addresses the node's record advertises (a server's;
	// a client advertises none). At most MaxRecordAddrs.
	Addrs []netip.AddrPort
	// Roles are the application's role bits for the record (RoleServer
	// is set by the mode).
	Roles Roles
	// Bootstrap are the nodes a table starts from.
	Bootstrap []crypto.Address
	// BootstrapFunc, if set, returns more bootstrap nodes, besides
	// Bootstrap, each time the list is read (a bootstrap, a lookup from
	// an empty table): for nodes whose IDs become known only later, as a
	// host:port bootstrap entry's once a dial to it pinned its ID. It
	// must be safe for concurrent use and not block for long.
	BootstrapFunc func() []crypto.Address
	// Limits are the diversity bounds; a zero field means its default.
	Limits Limits
	// AllowAddr decides whether an address another node reports may be
	// dialed (the node's filters, bans and routability rules). Nil allows
	// only globally routable unicast addresses.
	AllowAddr func(netip.AddrPort) bool
	// OnBadAnswer, if set, is told of a node whose answer did not decode
	// or carried a bad or foreign record (the node's reputation system
	// should hear of it; the query has failed either way).
	OnBadAnswer func(id crypto.ID, err error)
	// OnFound receives the records each lookup found (verified, not our
	// own). It must not block for long.
	OnFound func([]*Record)
	// QueryTimeout bounds one query (default DefaultQueryTimeout).
	QueryTimeout time.Duration
	// RevalidateInterval is the revalidation period (default
	// DefaultRevalidateInterval).
	RevalidateInterval time.Duration
	// RefreshInterval is the bucket refresh period (default
	// DefaultRefreshInterval).
	RefreshInterval time.Duration
	// MaxFailures is how many failed pings remove an entry (default
	// DefaultMaxFailures).
	MaxFailures int
	// MaxCandidates bounds unverified inbound contacts (default
	// DefaultMaxCandidates).
	MaxCandidates int
	// Clock is the time source (default the real clock).
	Clock clock.Clock
	// Rand is the DHT's randomness: the IDs bucket refreshes look up
	// (RandomID), and revalidation's choice of bucket and of candidate.
	// Nil means math/rand/v2's global source. The DHT serialises its
	// draws, so a seeded one (a simulator's, for the same run from the
	// same seed) need not be safe for concurrent use.
	Rand *rand.Rand
	// Carry, if set, carries the pings Handle starts to verify a new
	// inbound candidate, instead of a goroutine over Transport: it must
	// send c.Req to c.To and call c.Answer once, later, not from within
	// Carry (a simulator schedules both on its event loop). With Carry
	// and the stepping API (StartLookup, RevalidateCalls, Prepare), and
	// without Start, the DHT starts no goroutine and never blocks.
	Carry func(c *Call)
}

// Routable reports whether ip is a globally routable unicast address:
// the default rule for addresses other nodes report.
func Routable(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsGlobalUnicast() && !ip.IsPrivate()
}

// Stats counts a DHT's work since it started.
type Stats struct {
	Mode  Mode
	Table TableStats
	// Lookups counts lookups, LookupFailures those that found nothing.
	Lookups, LookupFailures uint64
	// Queries counts requests sent, QueryFailures those without a valid
	// answer (timeouts, errors, bad messages), NotSent those of them
	// the transport could not send (ErrNotSent).
	Queries, QueryFailures, NotSent uint64
	// Served counts peers' requests answered; BadRequests those refused
	// as malformed.
	Served, BadRequests uint64
	// Candidates is how many inbound contacts wait to be verified.
	Candidates int
	// Seq is the sequence number of the node's current record.
	Seq uint64
}

// DHT is a node's Kademlia DHT. It is safe for concurrent use.
type DHT struct {
	cfg    Config
	table  *Table
	server atomic.Bool
	self   atomic.Pointer[Record]

	recMu   sync.Mutex       // serialises changes of the record, server and addrs
	addrs   []netip.AddrPort // the addresses the record advertises in server mode
	publish chan struct{}    // capacity 1: the record changed while a server

	mu         sync.Mutex
	candidates map[crypto.ID]*Record
	stopped    bool               // Stop was called: no new goroutines
	asking     map[crypto.ID]int  // our queries in flight per node
	verified   map[string]*Record // records whose signature checked, by encoding
	verifying  atomic.Int32       // candidate pings in flight
	randMu     sync.Mutex         // serialises the draws from cfg.Rand

	lookups, lookupFails, queries, queryFails, notSent, served, badReqs atomic.Uint64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	start  sync.Once
}

// New returns a DHT; Start begins its maintenance.
func New(cfg Config) (*DHT, error) {
	if cfg.Identity == nil {
		return nil, errors.New("dht: Config.Identity is required")
	}
	if cfg.Transport == nil {
		return nil, errors.New("dht: Config.Transport is required")
	}
	if cfg.Mode > ModeServer {
		return nil, fmt.Errorf("dht: Config.Mode %v unknown", cfg.Mode)
	}
	if len(cfg.Addrs) > MaxRecordAddrs {
		return nil, fmt.Errorf("dht: Config.Addrs: %d addresses, at most %d", len(cfg.Addrs), MaxRecordAddrs)
	}
	def := DefaultLimits()
	if cfg.Limits.PerBucket24 == 0 {
		cfg.Limits.PerBucket24 = def.PerBucket24
	}
	if cfg.Limits.PerTable24 == 0 {
		cfg.Limits.PerTable24 = def.PerTable24
	}
	if cfg.Limits.PerTableGroup == 0 {
		cfg.Limits.PerTableGroup = def.PerTableGroup
	}
	if cfg.Limits.ResultPer24 == 0 {
		cfg.Limits.ResultPer24 = def.ResultPer24
	}
	if cfg.Limits.ResultPerGroup == 0 {
		cfg.Limits.ResultPerGroup = def.ResultPerGroup
	}
	if cfg.Limits.ResultPer24 < 0 || cfg.Limits.ResultPerGroup < 0 || cfg.Limits.PerBucket24 < 0 || cfg.Limits.PerTable24 < 0 || cfg.Limits.PerTableGroup < 0 {
		return nil, errors.New("dht: Config.Limits: bounds must not be negative")
	}
	if g := cfg.Limits.IPv4GroupBits; g < 0 || g > 32 {
		return nil, fmt.Errorf("dht: Config.Limits.IPv4GroupBits %d: want 1 to 32, or 0 for the default", g)
	}
	if g := cfg.Limits.IPv6GroupBits; g < 0 || g > 128 {
		return nil, fmt.Errorf("dht: Config.Limits.IPv6GroupBits %d: want 1 to 128, or 0 for the default", g)
	}
	if cfg.AllowAddr == nil {
		cfg.AllowAddr = func(a netip.AddrPort) bool { return Routable(a.Addr()) }
	}
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if cfg.RevalidateInterval == 0 {
		cfg.RevalidateInterval = DefaultRevalidateInterval
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	if cfg.MaxCandidates == 0 {
		cfg.MaxCandidates = DefaultMaxCandidates
	}
	if cfg.QueryTimeout < 0 || cfg.RevalidateInterval < 0 || cfg.RefreshInterval < 0 || cfg.MaxFailures < 0 || cfg.MaxCandidates < 0 {
		return nil, errors.New("dht: Config: durations and counts must not be negative")
	}
	cfg.Clock = clock.Or(cfg.Clock)
	if cfg.Rand == nil {
		cfg.Rand = rand.New(globalSource{})
	}
	d := &DHT{cfg: cfg, table: NewTable(cfg.Identity.ID(), cfg.Limits), candidates: map[crypto.ID]*Record{}, asking: map[crypto.ID]int{}, verified: map[string]*Record{},
		addrs: slices.Clone(cfg.Addrs), publish: make(chan struct{}, 1)}
	switch cfg.Mode {
	case ModeServer:
		d.server.Store(true)
	case ModeAuto:
		for _, a := range cfg.Addrs {
			if cfg.AllowAddr(a) {
				d.server.Store(true)
			}
		}
	}
	// The sequence number starts at the clock's milliseconds, so a
	// restarted node's record replaces its earlier ones.
	r, err := d.newRecord(uint64(cfg.Clock.Now().UnixMilli()), d.server.Load(), d.addrs)
	if err != nil {
		return nil, err
	}
	d.self.Store(r)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d, nil
}

// newRecord signs the node's record for the mode: a server's claims
// RoleServer and advertises addrs, a client's neither.
func (d *DHT) newRecord(seq uint64, server bool, addrs []netip.AddrPort) (*Record, error) {
	roles := d.cfg.Roles &^ RoleServer
	if server {
		roles |= RoleServer
	} else {
		addrs = nil
	}
	return NewRecord(d.cfg.Identity, d.cfg.Network, seq, roles, addrs)
}

// update re-signs the record, with the next sequence number, for the
// mode and addresses change returns from those in force, unless neither
// changed. A server's new record is announced by a lookup of the node's
// own ID (once Start has run), whose queries carry it to the nodes
// closest to it.
func (d *DHT) update(change func(server bool, addrs []netip.AddrPort) (bool, []netip.AddrPort)) error {
	d.recMu.Lock()
	defer d.recMu.Unlock()
	server, addrs := change(d.server.Load(), d.addrs)
	if len(addrs) > MaxRecordAddrs {
		return fmt.Errorf("dht: %d addresses, at most %d", len(addrs), MaxRecordAddrs)
	}
	if server == d.server.Load() && slices.Equal(addrs, d.addrs) {
		return nil
	}
	r, err := d.newRecord(d.self.Load().Seq+1, server, addrs)
	if err != nil {
		return err
	}
	d.addrs = slices.Clone(addrs)
	d.self.Store(r)
	d.server.Store(server)
	if server {
		select {
		case d.publish <- struct{}{}:
		default:
		}
	}
	return nil
}

// SetAddrs replaces the addresses the node's record advertises (in server
// mode; a client's record carries none until it switches), with the next
// sequence number. The addresses in force change nothing.
func (d *DHT) SetAddrs(addrs []netip.AddrPort) error {
	return d.update(func(server bool, _ []netip.AddrPort) (bool, []netip.AddrPort) { return server, addrs })
}

// SetServer switches the node to server mode (on) or client mode at run
// time, whatever Config.Mode said: a server answers queries, sends its
// record with its own and advertises its addresses; a client does
// neither, so the nodes that hold it drop it when their revalidation
// pings fail. The record is re-signed with the next sequence number, and
// a new server's record announced by a lookup of its own ID. The mode in
// force changes nothing. It is safe to call concurrently.
func (d *DHT) SetServer(on bool) error {
	return d.update(func(_ bool, addrs []netip.AddrPort) (bool, []netip.AddrPort) { return on, addrs })
}

// Self returns the node's current record.
func (d *DHT) Self() *Record { return d.self.Load() }

// Server reports whether the node answers queries (server mode, auto
// resolved to server, or SetServer(true)).
func (d *DHT) Server() bool { return d.server.Load() }

// Bucket returns the index of the bucket id takes in the table.
func (d *DHT) Bucket(id crypto.ID) int { return CommonPrefixLen(d.cfg.Identity.ID(), id) }

// Table returns the routing table.
func (d *DHT) Table() *Table { return d.table }

// Stats returns the DHT's counters.
func (d *DHT) Stats() Stats {
	d.mu.Lock()
	nc := len(d.candidates)
	d.mu.Unlock()
	m := ModeClient
	if d.server.Load() {
		m = ModeServer
	}
	// Failures first: each is counted after its total, so a total read
	// later is never below its failures.
	ns := d.notSent.Load()
	lf, qf := d.lookupFails.Load(), d.queryFails.Load()
	return Stats{Mode: m, Table: d.table.Stats(),
		Lookups: d.lookups.Load(), LookupFailures: lf,
		Queries: d.queries.Load(), QueryFailures: qf, NotSent: ns,
		Served: d.served.Load(), BadRequests: d.badReqs.Load(),
		Candidates: nc, Seq: d.self.Load().Seq}
}

// Start begins the maintenance: a bootstrap, then revalidation and bucket
// refresh on their schedules, until Stop. It returns at once.
func (d *DHT) Start() {
	d.start.Do(func() {
		d.wg.Add(1)
		go d.maintain()
	})
}

// Stop ends the maintenance and any lookup in progress, and waits for them.
func (d *DHT) Stop() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
}

func (d *DHT) maintain() {
	defer d.wg.Done()
	d.Bootstrap(d.ctx)
	reval := d.cfg.Clock.NewTicker(d.cfg.RevalidateInterval)
	defer reval.Stop()
	refresh := d.cfg.Clock.NewTicker(d.cfg.RefreshInterval)
	defer refresh.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-reval.C():
			if d.table.Len() == 0 {
				d.Bootstrap(d.ctx)
				continue
			}
			d.Revalidate(d.ctx)
		case <-refresh.C():
			d.Refresh(d.ctx)
		case <-d.publish:
			d.Lookup(d.ctx, d.cfg.Identity.ID())
		}
	}
}

// Bootstrap asks the configured bootstrap nodes for the nodes closest to
// us, then refreshes the table. It reports whether any bootstrap node
// answered (or the table already had entries).
func (d *DHT) Bootstrap(ctx context.Context) bool {
	ok := d.table.Len() > 0
	for _, b := range d.bootstrap() {
		if b.ID == d.cfg.Identity.ID() {
			continue
		}
		if _, err := d.query(ctx, b, &Message{Type: MsgFindNode, Target: d.cfg.Identity.ID()}); err == nil {
			ok = true
		}
	}
	if ok {
		d.Refresh(ctx)
	}
	return ok
}

// bootstrap returns Config.Bootstrap and what Config.BootstrapFunc adds,
// each node once.
func (d *DHT) bootstrap() []crypto.Address {
	if d.cfg.BootstrapFunc == nil {
		return d.cfg.Bootstrap
	}
	out := slices.Clone(d.cfg.Bootstrap)
	for _, a := range d.cfg.BootstrapFunc() {
		if !slices.ContainsFunc(out, func(b crypto.Address) bool { return b.ID == a.ID }) {
			out = append(out, a)
		}
	}
	return out
}

// Refresh looks the node itself up, then a random ID in every bucket up
// to the deepest non-empty one, so each bucket learns its range.
func (d *DHT) Refresh(ctx context.Context) {
	self := d.cfg.Identity.ID()
	d.Lookup(ctx, self)
	depth := d.table.Stats().Depth
	for i := range min(depth+1, IDBits) {
		if ctx.Err() != nil {
			return
		}
		d.Lookup(ctx, d.RandomID(i))
	}
}

// RandomIDInBucket returns a random ID that shares exactly i leading bits
// with self (so it falls in self's bucket i), drawn from math/rand/v2's
// global source (DHT.RandomID draws from Config.Rand).
func RandomIDInBucket(self crypto.ID, i int) crypto.ID {
	return randomIDInBucket(rand.New(globalSource{}), self, i)
}

func randomIDInBucket(r *rand.Rand, self crypto.ID, i int) crypto.ID {
	var id crypto.ID
	for j := range id {
		id[j] = byte(r.Uint32())
	}
	for bit := range i {
		mask := byte(0x80) >> (bit % 8)
		id[bit/8] = id[bit/8]&^mask | self[bit/8]&mask
	}
	if i < IDBits {
		mask := byte(0x80) >> (i % 8)
		id[i/8] = id[i/8]&^mask | (^self[i/8])&mask
	}
	return id
}

// Revalidate pings the least recently seen entry of a random non-empty
// bucket: an answer moves it to the front, a failure counts toward its
// removal (Config.MaxFailures), after which a replacement takes its slot.
// It also pings one inbound candidate, which enters the table if it answers.
func (d *DHT) Revalidate(ctx context.Context) {
	if c := d.revalidateEntry(func() bool { return ctx.Err() == nil }); c != nil {
		resp, err := d.request(ctx, c)
		c.Answer(resp, err)
	}
	if c := d.candidatePing(); c != nil {
		resp, err := d.request(ctx, c)
		c.Answer(resp, err)
	}
}

// Verifying returns how many candidate pings are in flight.
func (d *DHT) Verifying() int { return int(d.verifying.Load()) }
