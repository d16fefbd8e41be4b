package filter

import (
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/errs"
)

// ErrClosed is returned by Reload after Close.
// It is the shared internal/errs.ErrClosed, which p2p re-exports.
var ErrClosed = errs.ErrClosed

// ErrNoDatabase is returned by Reload when Config.CountryDB is empty.
var ErrNoDatabase = errors.New("filter: no country database configured")

// Filter is the admission point for peers: see the package documentation.
// Create one with New and stop it with Close. All methods are safe for
// concurrent use. A nil or zero Filter is not usable.
type Filter struct {
	s        settings
	names    *countryNames
	counts   *counts
	throttle *throttle // nil when disabled

	geo atomic.Pointer[geoDB] // nil: no database, or closed

	reload struct {
		sync.Mutex           // serialises loading, swapping and retiring databases
		seen       fileStamp // last file version tried, good or bad
		statFailed bool      // the last poll could not stat the file
	}
	reloads, reloadErrors atomic.Uint64

	decisions      [numDirections][numReasons]atomic.Uint64
	rulesDecisions [numReasons]atomic.Uint64
	refused        [numReasons]atomic.Uint64 // Acquire refusals

	closed atomic.Bool
	done   chan struct{}
	wg     sync.WaitGroup
}

// hooks let tests wait for the database watcher.
type hooks struct {
	// afterPoll runs after each poll of the database file.
	afterPoll func()
}

// New validates cfg, loads the country database when one is configured and
// starts watching it. Invalid configuration gives a *ConfigError naming the
// field and entry; an unusable database gives a *DBError naming the path.
// Call Close to stop the watcher.
func New(cfg Config, deps Deps) (*Filter, error) { return newFilter(cfg, deps, hooks{}) }

func newFilter(cfg Config, deps Deps, h hooks) (*Filter, error) {
	s, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	s.clock = clock.Or(deps.Clock)
	s.now = s.clock.Now
	s.log = deps.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	f := &Filter{
		s:      s,
		names:  newCountryNames(),
		counts: newCounts(),
		done:   make(chan struct{}),
	}
	if s.throttle {
		f.throttle = newThrottle(&f.s)
	}
	if s.dbPath == "" {
		return f, nil
	}
	data, stamp, err := readDB(s.dbPath)
	if err == nil {
		var db *geoDB
		if db, err = openDB(data, stamp, s.cacheSize); err == nil {
			f.geo.Store(db)
			f.reload.seen = stamp
		}
	}
	if err != nil {
		return nil, &DBError{Path: s.dbPath, Err: err}
	}
	if s.dbInterval > 0 {
		t := s.clock.NewTicker(s.dbInterval)
		f.wg.Add(1)
		go f.watch(t.C(), t.Stop, h.afterPoll)
	}
	return f, nil
}

// Check decides whether addr may be admitted in direction dir: the CIDR and
// country rules always; for Inbound also the attempt throttle (each call is
// one attempt) and the caps; for Outbound also the caps; for PEX nothing
// more. Loopback or private addresses skip the throttle and caps when
// Config.ExemptLoopback or ExemptPrivate is set. The caps are only checked
// here; Acquire counts the peer once it is admitted. An unknown dir is
// treated as Inbound.
//
// Check is safe for concurrent use and does not allocate, except on the
// first inbound attempt from an address (a throttle entry) and on a country
// cache miss (the database lookup).
func (f *Filter) Check(addr netip.Addr, dir Direction) Decision {
	if dir >= numDirections {
		dir = Inbound
	}
	d := f.check(addr, dir)
	f.decisions[dir][d.Reason].Add(1)
	return d
}

func (f *Filter) check(addr netip.Addr, dir Direction) Decision {
	a, d := f.rules(addr)
	if !d.Allowed() || dir == PEX || f.exempt(a) {
		return d
	}
	if dir == Inbound && f.throttle != nil && !f.throttle.allow(a, f.s.now()) {
		d.Reason = ReasonThrottled
		return d
	}
	d.Reason = f.counts.full(a, f.subnet(a), f.s.maxPerIP, f.s.maxPerSubnet)
	return d
}

// CheckRules applies only the CIDR and country rules to addr: the check for
// peers exempt from caps and throttling, such as must-connect peers, which
// are still subject to deny rules. Safe for concurrent use; allocates as
// Check does.
func (f *Filter) CheckRules(addr netip.Addr) Decision {
	_, d := f.rules(addr)
	f.rulesDecisions[d.Reason].Add(1)
	return d
}

// rules normalises addr and applies the CIDR and country rules.
func (f *Filter) rules(addr netip.Addr) (netip.Addr, Decision) {
	if f.closed.Load() {
		return addr, Decision{Reason: ReasonClosed}
	}
	if !addr.IsValid() {
		return addr, Decision{Reason: ReasonInvalidAddress}
	}
	a := addr.Unmap().WithZone("")
	s := &f.s
	if s.deny.contains(a) {
		return a, Decision{Reason: ReasonCIDRDenied}
	}
	if !s.allow.empty() && !s.allow.contains(a) {
		return a, Decision{Reason: ReasonCIDRNotAllowed}
	}
	if !s.countryRules {
		return a, Decision{Reason: ReasonAllowed}
	}
	idx, ok := f.country(a)
	switch {
	case !ok: // only after Close: a database is required with country rules
		return a, Decision{Reason: ReasonClosed}
	case idx < 0 && s.unknownDeny:
		return a, Decision{Reason: ReasonCountryUnknown}
	case idx < 0:
		return a, Decision{Reason: ReasonAllowed}
	case s.denyCountry.has(idx):
		return a, Decision{Reason: ReasonCountryDenied, Country: f.names[idx]}
	case s.allowCountry.n > 0 && !s.allowCountry.has(idx):
		return a, Decision{Reason: ReasonCountryNotAllowed, Country: f.names[idx]}
	}
	return a, Decision{Reason: ReasonAllowed, Country: f.names[idx]}
}

// country looks a up in the current database: idx is -1 when unknown; ok
// is false when no database is loaded.
func (f *Filter) country(a netip.Addr) (idx int, ok bool) {
	for {
		db := f.geo.Load()
		if db == nil {
			return -1, false
		}
		if db.acquire() {
			idx = db.country(a)
			db.release()
			return idx, true
		}
		// db was retired between Load and acquire; a newer one (or nil)
		// is in place now.
	}
}

// Country returns the upper-case ISO 3166-1 alpha-2 code the loaded database
// gives for addr, or "" when it gives none or no database is loaded. It
// shares Check's cache. Safe for concurrent use.
func (f *Filter) Country(addr netip.Addr) string {
	if !addr.IsValid() {
		return ""
	}
	if idx, ok := f.country(addr.Unmap().WithZone("")); ok && idx >= 0 {
		return f.names[idx]
	}
	return ""
}

func (f *Filter) exempt(a netip.Addr) bool {
	return (f.s.exemptLoopback && a.IsLoopback()) || (f.s.exemptPrivate && a.IsPrivate())
}

// subnet returns the prefix that groups a for the subnet cap.
func (f *Filter) subnet(a netip.Addr) netip.Prefix {
	bits := f.s.v6Bits
	if a.Is4() {
		bits = f.s.v4Bits
	}
	p, _ := a.Prefix(bits)
	return p
}

// Acquire counts a peer from addr as connected, unless that would exceed
// MaxPerIP or MaxPerSubnet (the check and the count are one atomic step, so
// concurrent admissions cannot overshoot a cap). Call it once the peer is
// admitted, after the handshake, and call release when it disconnects.
// Rules are not applied here; Check or CheckRules does that. Exempt
// loopback and private addresses are counted but never refused.
//
// release is never nil; it is idempotent, and a no-op when the peer was
// refused (d not Allowed). Safe for concurrent use.
func (f *Filter) Acquire(addr netip.Addr) (release func(), d Decision) {
	return f.acquire(addr, true)
}

// AcquireExempt counts a peer from addr as connected without checking the
// caps, for peers exempt from them such as must-connect peers. It still
// counts towards the caps other peers see. release is idempotent and never
// nil. Safe for concurrent use.
func (f *Filter) AcquireExempt(addr netip.Addr) (release func()) {
	r, _ := f.acquire(addr, false)
	return r
}

func (f *Filter) acquire(addr netip.Addr, check bool) (func(), Decision) {
	if !addr.IsValid() {
		f.refused[ReasonInvalidAddress].Add(1)
		return func() {}, Decision{Reason: ReasonInvalidAddress}
	}
	a := addr.Unmap().WithZone("")
	sub := f.subnet(a)
	check = check && !f.exempt(a)
	if r := f.counts.add(a, sub, f.s.maxPerIP, f.s.maxPerSubnet, check); r != ReasonAllowed {
		f.refused[r].Add(1)
		return func() {}, Decision{Reason: r}
	}
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			f.counts.remove(a, sub)
		}
	}, Decision{Reason: ReasonAllowed}
}

// Close stops the database watcher and releases the database once checks in
// flight are done. Later calls to Check and CheckRules return ReasonClosed;
// Acquire keeps counting. Close is idempotent, safe for concurrent use, and
// always returns nil.
func (f *Filter) Close() error {
	if !f.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(f.done)
	f.wg.Wait()
	f.reload.Lock()
	old := f.geo.Swap(nil)
	f.reload.Unlock()
	if old != nil {
		old.release()
	}
	return nil
}
