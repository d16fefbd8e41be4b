package p2p

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/discovery/dht"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
	"github.com/peerwire/peerwire/proto/pb"
)

// Node is a peerwire node: see the package documentation. All methods are
// safe for concurrent use.
type Node struct {
	s      *settings
	id     *crypto.Identity
	secure *conn.SecureConfig
	filter *filter.Filter
	book   *peerbook.Book
	set    *peerset.Set
	seen   *seenCache
	topics map[uint8]*topicState
	// topicAt holds the same topics indexed by ID, for the per-message
	// paths (onMessage, Send), where the map's lookup showed in profiles.
	topicAt [256]*topicState
	dht     atomic.Pointer[dht.DHT] // nil unless Config.DHT is on and the node started
	dhtSync sync.Mutex              // serialises syncDHT (dht.go)
	// transientOut holds our transient connections (transient.go) by peer
	// ID (crypto.ID → *peerConn), for the DHT's next queries to reuse.
	transientOut sync.Map
	// transientAdmit serialises transient admissions (admitTransient), so
	// the slot an eviction frees goes to the connection that caused it.
	transientAdmit sync.Mutex
	// transientReserved counts the outbound transient slots held by
	// dials in progress (reserveTransient), under transientAdmit.
	transientReserved int
	// transientWake is closed, and a new one made, whenever an outbound
	// transient slot may have come free (transientFreed), waking the
	// queries reserveTransient holds; transientWaiting counts those.
	transientWakeMu  sync.Mutex
	transientWake    chan struct{}
	transientWaiting int
	// sendTo is an index derived from the peer set, not a second registry:
	// each peer's current connection (peerConn.current), as the Set holds
	// it. It exists for Send's speed: Send finds a peer's connection with
	// one atomic load instead of taking the Set's lock (peerConn, app.go).
	// Two places keep it in step, both under st.closed: setupPeer adds the
	// connection once the Set has admitted it and it is marked current,
	// and onClose drops it as it stops being current (setSendTo). A miss
	// falls back to the Set, which stays the owner; TestSendToFollowsConnection
	// checks the two agree.
	sendTo atomic.Pointer[sendIndex]
	log    *slog.Logger

	loadReport *peerbook.LoadReport
	health     healthState // Health and the no-peers and dial warnings (health.go)

	ctx    context.Context // ends at Stop
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the node starts
	// spawning orders every wg.Add before Stop's wg.Wait: API calls
	// (Dial, Disconnect, Ban, Report, AddMustConnect) start goroutines
	// from the application's goroutines, which the WaitGroup does not count.
	spawning struct {
		sync.Mutex      // guards closed
		closed     bool // Stop is waiting: start nothing more
	}
	state  atomic.Int32 // 0 new, 1 started, 2 stopped
	ln     net.Listener
	listen crypto.Address // our listen address with our ID, once listening
	reach  reachState     // listeners and address verification (listen.go, reach.go)

	mdns atomic.Pointer[mdnsState] // mDNS discovery (mdns.go), nil when off

	open     openSlots // inbound handshake slots open to anyone (handshake_slots.go)
	reserved struct {  // inbound handshake slots for known addresses
		slots chan struct{}
		mu    sync.Mutex
		byIP  map[netip.Addr]int // reserved slots held per address
	}
	dials   chan struct{} // dial slots
	dialLim *rate.Limiter
	// afterFunc makes the timers of waits measured on Config.Clock (its
	// AfterFunc).
	afterFunc func(time.Duration, func()) clock.Timer

	// The connected peers are the set's (set.Get, set.Peers; each
	// Peer.Conn is its *peerConn); in-flight dials too (set.BeginDial).
	// conns holds every connection from its MultiConn's start until its
	// OnClose has run, admitted or not: Stop waits for all of them.
	conns struct {
		sync.Mutex // guards live
		live       map[*peerConn]struct{}
	}

	// announced is, per peer, the connection whose EventConnected
	// subscribers last saw and whose EventDisconnected they have not
	// (announce, unannounce): a connection replaced by a duplicate ends
	// without telling them the peer left, and its successor arrives
	// without telling them twice that it came.
	announced struct {
		sync.Mutex // guards m, setup and the publishing of the two events
		m          map[crypto.ID]*peerConn
		setup      map[crypto.ID][]*peerConn // connections in setupConn
		// left holds the EventDisconnected a connection in setup inherited
		// with the announcement: published if it fails too.
		left map[crypto.ID]Event
	}

	// strikes remembers, per IPv4 address or IPv6 /64, when identities
	// connected from it were banned automatically (Config.IPBanAfter).
	strikes struct {
		sync.Mutex // guards m
		m          map[netip.Prefix][]time.Time
	}

	seeds      seedHolds       // seeds held back from the fill (seedhold.go)
	rr         rrState         // request/response (request.go)
	ckst       chunkedCounters // chunked dissemination (chunked.go)
	ckTopics   []byte          // IDs of the Chunked topics, ascending: featureChunked's value
	events     eventHub
	nat        natState
	st         nodeCounters
	lastStatus statusMark // status goroutine only
}

// peerConn is one connection from its handshake on.
type peerConn struct {
	n      *Node
	ec     *conn.EncryptedConn
	mc     *mux.MultiConn
	id     crypto.ID
	meta   *pb.PeerMeta
	dir    peerset.Direction
	remote netip.AddrPort
	since  time.Time
	peer   *peerset.Peer // nil until admitted; always nil for a transient one
	// transient marks a connection made only for DHT queries
	// (transient.go): outside the peer set, never current.
	transient bool
	tr        *transientState // set when transient
	pexMu     sync.Mutex      // guards pexLim
	// pexLim bounds the PEX requests of this peer we answer (answerPex).
	pexLim *rate.Limiter
	// refused is set when the node refuses the peer: at setup (its
	// MultiConn is then never started), or later when it is banned
	// (Close). From then on whatever the connection still reads while it
	// closes is discarded (Stats.Discarded), not delivered.
	refused atomic.Bool
	// pullAnswered is set once the peer answered one of our chunked pulls
	// with the chunk (chunked_pull.go): from then on a pull it leaves
	// unanswered is taken for load, never for silence.
	pullAnswered atomic.Bool
	// pexLearned counts the new addresses the peer's PEX answers gave
	// (ingestPex): a seed's visit that taught nothing holds it back.
	pexLearned atomic.Int64
	// current is set once the admitted connection is still the set's
	// after its start, and cleared in OnClose: while set, Stats counts it
	// live and the node sends to it. Written under n.st.closed, so its
	// counters are folded into the totals in the step that clears it.
	current atomic.Bool
	// gossipDrops counts forwards to this peer dropped on a full queue.
	gossipDrops topicDrops
	// closed is closed when the connection has ended and its OnClose has
	// run: nothing of it remains but its goroutines' return.
	closed chan struct{}
	// settled is closed when setupConn is done with an admitted
	// connection (made it current or not, told the book, published
	// EventConnected). onClose waits for it, so a connection that ends
	// at once is still recorded ended after it was recorded started: a
	// refusal's backoff is not undone by the admission's MarkSuccess, and
	// EventDisconnected never precedes EventConnected.
	settled chan struct{}
}

// Close implements peerset.Conn: a graceful goaway with the mapped code.
// It returns at once; the close completes in the background. A ban (by
// the operator, an IP ban, or for the score) refuses the peer: nothing
// more of it is delivered. Other closes (trimmed, a duplicate's loser, a
// seed done with the peer) still deliver what the peer sent before it
// learned of the close: those messages are not the peer's fault, and a
// duplicate's may not reach us on the surviving connection.
func (pc *peerConn) Close(reason peerset.DisconnectReason, text string) error {
	if reason == peerset.ReasonBanned || reason == peerset.ReasonLowReputation {
		pc.refused.Store(true)
	}
	code := goAwayCode(reason)
	if text == "" {
		text = reason.String()
	}
	pc.n.goAway(pc.mc, code, text)
	return nil
}

func goAwayCode(r peerset.DisconnectReason) mux.GoAwayCode {
	switch r {
	case peerset.ReasonTooManyPeers, peerset.ReasonAddressCap, peerset.ReasonNetworkGroup:
		return mux.GoAwayTooManyPeers
	case peerset.ReasonBanned, peerset.ReasonLowReputation:
		return mux.GoAwayBanned
	case peerset.ReasonDuplicate:
		return mux.GoAwayDuplicate
	case peerset.ReasonTrimmed:
		return mux.GoAwayTrimmed
	case peerset.ReasonShutdown:
		return mux.GoAwayShutdown
	case peerset.ReasonSelf:
		return mux.GoAwayDuplicate
	}
	return mux.GoAwayInternal
}

// New validates cfg, loads or creates the identity, opens the peer book and
// prepares the node. It starts nothing; call Start.
func New(cfg Config) (*Node, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	n := &Node{s: s, topics: map[uint8]*topicState{}, log: s.Logger.With("component", "p2p")}
	n.conns.live = map[*peerConn]struct{}{}
	n.strikes.m = map[netip.Prefix][]time.Time{}
	n.id = s.Identity
	if err := ensureDataDir(s.DataDir); err != nil {
		return nil, err
	}
	if n.id == nil {
		if err := checkDataFile(s.keyPath); err != nil {
			return nil, err
		}
		id, created, err := crypto.LoadOrCreateKeyFile(s.keyPath)
		if err != nil {
			return nil, fmt.Errorf("p2p: Config.DataDir: %w", err)
		}
		if created {
			n.log.Info("created identity key", "path", s.keyPath, "id", id.ID().String())
		}
		n.id = id
	}
	if s.bookPath != "" {
		if err := checkDataFile(s.bookPath); err != nil {
			return nil, err
		}
	}
	fd := filter.Deps{Clock: s.Clock, Logger: s.Logger.With("component", "filter")}
	if n.filter, err = filter.New(s.Filter, fd); err != nil {
		return nil, fmt.Errorf("p2p: Config.Filter: %w", err)
	}
	bc := s.Book
	if bc.SaveInterval == 0 {
		bc.SaveInterval = s.SaveInterval
	}
	bd := peerbook.Deps{SelfID: n.id.ID(), Filter: bookFilter{n.filter}, Clock: s.Clock, Logger: s.Logger.With("component", "book")}
	if s.bookPath != "" {
		n.book, n.loadReport, err = peerbook.Open(s.bookPath, bc, bd)
	} else {
		n.book, err = peerbook.New(bc, bd)
	}
	if err != nil {
		n.filter.Close()
		return nil, fmt.Errorf("p2p: Config.Book: %w", err)
	}
	pc := s.Peers
	pc.MustConnect = append(append([]crypto.Address(nil), pc.MustConnect...), s.must...)
	pd := peerset.Deps{
		Self:    n.id.ID(),
		Clock:   s.Clock,
		Logger:  s.Logger.With("component", "peerset"),
		Counter: counter{n.filter},
		Bans:    n.book, // the one store of bans
	}
	if n.set, err = peerset.New(pc, pd); err != nil {
		n.book.Close()
		n.filter.Close()
		return nil, fmt.Errorf("p2p: Config.Peers: %w", err)
	}
	for _, a := range pc.MustConnect {
		if err := n.book.Protect(a); err != nil {
			n.log.Warn("must-connect peer not kept in the book", "addr", a.String(), "err", err)
		}
	}
	for _, a := range s.bootstrap {
		if !a.ID.IsZero() {
			if err := n.book.Add(a, peerbook.Source{Kind: peerbook.SourceBootstrap}); err != nil {
				n.log.Warn("bootstrap address not added to the book", "addr", a.String(), "err", err)
			}
		}
	}
	n.seen = newSeenCache(s.SeenCacheSize, s.SeenTTL)
	n.initDialBack()
	for i := range s.appTopics {
		tc := &s.appTopics[i]
		n.topics[tc.ID] = newTopicState(tc)
		n.topicAt[tc.ID] = n.topics[tc.ID]
		n.initChunked(n.topics[tc.ID])
	}
	n.ckTopics = n.chunkedTopicIDs()
	n.open.max = s.MaxHandshakes - s.ReservedHandshakes
	n.reserved.slots = make(chan struct{}, s.ReservedHandshakes)
	n.reserved.byIP = make(map[netip.Addr]int)
	n.dials = make(chan struct{}, s.MaxConcurrentDials)
	n.dialLim = rate.NewLimiter(rate.Limit(s.DialRate), max(1, int(s.DialRate)))
	n.afterFunc = s.Clock.AfterFunc
	n.ctx, n.cancel = context.WithCancel(context.Background())
	return n, nil
}

// checkDataFile refuses a file of the data directory that exists but is
// not a regular file (after symlinks): opening a named pipe would block
// New for ever, and a device or directory is an operator's mistake.
func checkDataFile(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("p2p: Config.DataDir: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("p2p: Config.DataDir: %s is not a regular file (mode %v)", path, st.Mode())
	}
	return nil
}

// ID returns the node's peer ID.
func (n *Node) ID() crypto.ID { return n.id.ID() }

// Identity returns the node's identity key.
func (n *Node) Identity() *crypto.Identity { return n.id }

// ListenAddr returns the address the node listens on, with its ID, or the
// zero Address before Start or when not listening.
func (n *Node) ListenAddr() crypto.Address { return n.listen }

// LoadReport says what happened when the peer book file was loaded: nil
// without a data directory.
func (n *Node) LoadReport() *peerbook.LoadReport { return n.loadReport }

// Start opens the listener and starts the node's services. ctx bounds only
// the start itself; the node runs until Stop.
func (n *Node) Start(ctx context.Context) error {
	if !n.state.CompareAndSwap(0, 1) {
		return errors.New("p2p: Start called twice or after Stop")
	}
	if err := n.openListeners(ctx); err != nil {
		n.state.Store(2)
		n.closeStores()
		return err
	}
	meta := &pb.PeerMeta{Role: n.s.Role, SoftwareVersion: n.s.SoftwareVersion}
	for _, a := range n.s.advertise {
		meta.ListenAddrs = append(meta.ListenAddrs, n.ID().String()+"@"+a)
	}
	ids := make([]mux.TopicConfig, len(n.s.connTopics))
	copy(ids, n.s.connTopics)
	meta.Topics = mux.TopicIDs(ids)
	n.secure = n.secureWith(meta)
	if err := n.secure.Validate(); err != nil {
		n.state.Store(2)
		n.closeListeners()
		n.closeStores()
		return fmt.Errorf("p2p: %w", err)
	}
	if err := n.multiConfig(&peerConn{n: n}).Validate(); err != nil {
		n.state.Store(2)
		n.closeListeners()
		n.closeStores()
		return fmt.Errorf("p2p: %w", err)
	}
	if err := n.startMDNS(); err != nil {
		n.state.Store(2)
		if n.ln != nil {
			n.ln.Close()
		}
		n.closeStores()
		return err
	}
	for _, t := range n.topics {
		n.spawn(func() { n.pump(t) })
	}
	if err := n.startDHT(); err != nil {
		n.log.Error("DHT not started", "err", err)
	}
	n.startAccepting()
	n.spawn(func() {
		if err := n.book.Run(n.ctx); err != nil && !errors.Is(err, context.Canceled) {
			n.log.Warn("peer book saver stopped", "err", err)
		}
	})
	n.startServices()
	n.startChunked()
	n.startNAT()
	n.spawn(n.reachabilityLoop) // dialback.go
	n.log.Info("node started", "id", n.ID().String(), "listen", n.listenSummary(), "advertise", n.advertiseSummary(), "topics", len(n.topics))
	return nil
}

// spawn runs f on a goroutine the node waits for at Stop. Once Stop waits
// for the node's goroutines it runs nothing and returns false.
func (n *Node) spawn(f func()) bool {
	if !n.enter() {
		return false
	}
	go func() {
		defer n.wg.Done()
		f()
	}()
	return true
}

// enter counts the caller's goroutine among those Stop waits for, until it
// calls n.wg.Done; it is for API calls that do the node's work on the
// application's goroutine (Dial). Once Stop waits it returns false.
func (n *Node) enter() bool {
	n.spawning.Lock()
	defer n.spawning.Unlock()
	if n.spawning.closed {
		return false
	}
	n.wg.Add(1)
	return true
}

// Stop ends the node: it stops accepting and dialing, sends every peer a
// goaway "shutdown" (flushing queued messages until ctx ends, at most
// DefaultStopTimeout when ctx has no deadline), waits for every goroutine the
// node started, Dial calls in progress included, and for every connection
// to end, refused ones and those set up while Stop ran included (their
// close linger is cut short once ctx ends), then saves the peer book and
// closes the inboxes.
func (n *Node) Stop(ctx context.Context) error {
	prev := n.state.Swap(2)
	if prev == 2 {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStopTimeout)
		defer cancel()
	}
	n.stopDHT()
	n.closeListeners()
	n.stopNAT()
	// The goaways run as the node's goroutines (spawn cannot fail before
	// Stop closes it below), so Stop waits for their very end too.
	var wg sync.WaitGroup
	closing := n.transientConns() // transient.go: not in the set
	for _, p := range n.set.Close() {
		if pc, _ := p.Conn.(*peerConn); pc != nil {
			closing = append(closing, pc)
		}
	}
	for _, pc := range closing {
		wg.Add(1)
		n.spawn(func() {
			defer wg.Done()
			_ = pc.mc.GoAway(ctx, mux.GoAwayShutdown, "node stopping")
		})
	}
	// Connections not admitted (still in setup) end with the node's context.
	wg.Wait()
	n.cancel()
	for _, pc := range n.currentConns() {
		pc.mc.Abort(mux.GoAwayShutdown, "node stopping")
	}
	n.spawning.Lock()
	n.spawning.closed = true
	n.spawning.Unlock()
	n.wg.Wait()
	// Every goroutine that could start a connection has ended; those it
	// started are refused or closing, some lingering for the peer to close.
	n.waitConns(ctx)
	for _, t := range n.topics {
		t.closeInbox()
	}
	err := n.closeStores()
	n.events.closeAll()
	n.log.Info("node stopped", "id", n.ID().String())
	return err
}

func (n *Node) closeStores() error {
	err := n.book.Close()
	if ferr := n.filter.Close(); err == nil && ferr != nil && !errors.Is(ferr, filter.ErrClosed) {
		err = ferr
	}
	return err
}

// stopped reports whether Stop has begun.
func (n *Node) stopped() bool { return n.state.Load() == 2 }
