package mdns

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	hmdns "github.com/hashicorp/mdns"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/clock"
)

// Config configures a Service. NetworkID and Self are required; every
// other zero field means the default named in its comment.
type Config struct {
	// NetworkID names the network; the service name is derived from it
	// (ServiceName).
	NetworkID string
	// Self is this node's ID: answers carrying it (our own, heard back)
	// are skipped.
	Self crypto.ID
	// Advertise are the addresses the responder announces, each with Self
	// as its ID and a concrete host (not 0.0.0.0 or ::); at most
	// MaxTXTAddrs. Empty: the Service only queries (a node that does not
	// listen).
	Advertise []crypto.Address
	// Interface is the network interface to send and answer queries on.
	// Nil: the system's default multicast interface.
	Interface *net.Interface
	// Interval is how often the Service queries (MinInterval-MaxInterval,
	// default DefaultInterval). The first query is sent at Start. Ticks
	// come from Clock.
	Interval time.Duration
	// QueryTimeout is how long each query listens for answers
	// (MinQueryTimeout up to Interval, default DefaultQueryTimeout, or
	// Interval/2 when that is shorter). It is measured by the mdns library
	// on the system clock, not on Clock.
	QueryTimeout time.Duration
	// OnAnswer receives the addresses of each other node's answer, decoded
	// and checked by Decode, on the Service's goroutine, after the query
	// that brought them ended. It must not block for long.
	OnAnswer func([]crypto.Address)
	// OnRound, if not nil, is called on the Service's goroutine after each
	// query and its OnAnswer calls: the node expires stale local entries
	// there.
	OnRound func()
	// Clock paces the queries (nil: clock.Real).
	Clock clock.Clock
	// Logger receives the Service's logs, and the mdns library's at debug
	// level (nil: silent).
	Logger *slog.Logger
}

// Stats counts what a Service did since Start.
type Stats struct {
	Rounds      uint64 // queries sent
	QueryErrors uint64 // queries that could not be sent (no multicast route, ...)
	Answers     uint64 // other nodes' answers decoded and passed to OnAnswer
	Self        uint64 // our own answers, heard back
	Malformed   uint64 // answers Decode refused
}

// Service is a running responder and querier. Close stops it.
type Service struct {
	cfg     Config
	service string
	server  *hmdns.Server // nil when not announcing
	liblog  *log.Logger   // the mdns library's logger: our Logger at debug level

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	rounds, queryErrors, answers, self, malformed atomic.Uint64
	failing                                       bool // the last query failed; only run's goroutine uses it
}

func (c Config) withDefaults() (Config, error) {
	if c.NetworkID == "" {
		return c, errors.New("mdns: Config.NetworkID: required")
	}
	if c.Self.IsZero() {
		return c, errors.New("mdns: Config.Self: required")
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Interval < MinInterval || c.Interval > MaxInterval {
		return c, fmt.Errorf("mdns: Config.Interval: %v is outside %v-%v", c.Interval, MinInterval, MaxInterval)
	}
	if c.QueryTimeout == 0 {
		c.QueryTimeout = min(DefaultQueryTimeout, c.Interval/2)
	}
	if c.QueryTimeout < MinQueryTimeout || c.QueryTimeout > c.Interval {
		return c, fmt.Errorf("mdns: Config.QueryTimeout: %v is outside %v-%v (the interval)", c.QueryTimeout, MinQueryTimeout, c.Interval)
	}
	for i, a := range c.Advertise {
		if a.ID != c.Self {
			return c, fmt.Errorf("mdns: Config.Advertise: entry %d %q does not carry Config.Self", i+1, a.String())
		}
		if ap, ok := a.AddrPort(); ok && ap.Addr().IsUnspecified() {
			return c, fmt.Errorf("mdns: Config.Advertise: entry %d %q: an unspecified host cannot be dialed; give the interface's addresses", i+1, a.String())
		}
	}
	if c.OnAnswer == nil {
		c.OnAnswer = func([]crypto.Address) {}
	}
	c.Clock = clock.Or(c.Clock)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Start validates cfg, starts the responder (when cfg.Advertise is not
// empty) and the querying goroutine, which sends its first query at once.
// Errors name the Config field, or say why the multicast sockets could not
// be opened.
func Start(cfg Config) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, service: ServiceName(cfg.NetworkID), done: make(chan struct{})}
	s.liblog = slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)
	if len(cfg.Advertise) > 0 {
		zone, err := s.zone()
		if err != nil {
			return nil, err
		}
		s.server, err = hmdns.NewServer(&hmdns.Config{Zone: zone, Iface: cfg.Interface, Logger: s.liblog})
		if err != nil {
			return nil, fmt.Errorf("mdns: starting the responder: %w", err)
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

// zone builds the responder's records: PTR, SRV (the first advertised
// port), TXT (EncodeTXT) and A/AAAA for the advertised IPs, or for the
// interface's addresses when every advertised host is a name.
func (s *Service) zone() (hmdns.Zone, error) {
	txt, err := EncodeTXT(s.cfg.Advertise)
	if err != nil {
		return nil, fmt.Errorf("mdns: Config.Advertise: %w", err)
	}
	var ips []net.IP
	for _, a := range s.cfg.Advertise {
		if ap, ok := a.AddrPort(); ok {
			ips = append(ips, ap.Addr().AsSlice())
		}
	}
	if len(ips) == 0 {
		for _, ip := range InterfaceIPs(s.cfg.Interface) {
			ips = append(ips, ip.AsSlice())
		}
	}
	if len(ips) == 0 {
		return nil, errors.New("mdns: Config.Advertise: no IP address to put in the A records")
	}
	id := s.cfg.Self.String()
	return hmdns.NewMDNSService(id, s.service, domain+".", id+"."+domain+".", int(s.cfg.Advertise[0].Port), ips, txt)
}

// Close stops the responder and the queries and waits for the Service's
// goroutine, which may be inside a query: the library ends a query only at
// its timeout, so Close takes up to QueryTimeout. It is safe to call more
// than once.
func (s *Service) Close() error {
	s.once.Do(func() {
		s.cancel()
		<-s.done
		if s.server != nil {
			_ = s.server.Shutdown()
		}
	})
	return nil
}

// Stats returns the Service's counters.
func (s *Service) Stats() Stats {
	return Stats{
		Rounds: s.rounds.Load(), QueryErrors: s.queryErrors.Load(),
		Answers: s.answers.Load(), Self: s.self.Load(), Malformed: s.malformed.Load(),
	}
}

func (s *Service) run() {
	defer close(s.done)
	t := s.cfg.Clock.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		s.round()
		select {
		case <-t.C():
		case <-s.ctx.Done():
			return
		}
	}
}

// round sends one query, waits QueryTimeout for the answers, then decodes
// them. The entries are read only once the query has returned: the
// library keeps writing an entry while more records for it arrive.
func (s *Service) round() {
	entries := make(chan *hmdns.ServiceEntry, MaxAnswersPerRound)
	err := hmdns.QueryContext(s.ctx, &hmdns.QueryParam{
		Service: s.service, Domain: domain, Timeout: s.cfg.QueryTimeout,
		Interface: s.cfg.Interface, Entries: entries, Logger: s.liblog,
	})
	if s.ctx.Err() != nil {
		return
	}
	s.rounds.Add(1)
	switch {
	case err != nil && !s.failing:
		s.failing = true
		s.cfg.Logger.Warn("mDNS query failed; retrying every interval, logged again at debug level until one succeeds",
			"service", s.service, "err", err)
	case err != nil:
		s.cfg.Logger.Debug("mDNS query failed", "service", s.service, "err", err)
	case s.failing:
		s.failing = false
		s.cfg.Logger.Info("mDNS queries work again", "service", s.service)
	}
	if err != nil {
		s.queryErrors.Add(1)
	}
	for {
		var e *hmdns.ServiceEntry
		select {
		case e = <-entries:
		default:
		}
		if e == nil {
			break
		}
		s.handle(e)
	}
	if s.cfg.OnRound != nil {
		s.cfg.OnRound()
	}
}

func (s *Service) handle(e *hmdns.ServiceEntry) {
	addrs, err := Decode(s.service, e.Name, e.InfoFields)
	if err != nil {
		s.malformed.Add(1)
		s.cfg.Logger.Debug("mDNS answer refused", "name", e.Name, "err", err)
		return
	}
	if addrs[0].ID == s.cfg.Self {
		s.self.Add(1)
		return
	}
	s.answers.Add(1)
	s.cfg.OnAnswer(addrs)
}

// InterfaceIPs returns the unicast addresses a node on iface (nil: every
// interface that is up, multicast-capable and not loopback) can be dialed
// at from the LAN: IPv4 and IPv6, not link-local (an address with a zone
// is not a peerwire address), at most MaxTXTAddrs.
func InterfaceIPs(iface *net.Interface) []netip.Addr {
	var ifaces []net.Interface
	if iface != nil {
		ifaces = []net.Interface{*iface}
	} else if all, err := net.Interfaces(); err == nil {
		for _, i := range all {
			if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagMulticast != 0 && i.Flags&net.FlagLoopback == 0 {
				ifaces = append(ifaces, i)
			}
		}
	}
	var out []netip.Addr
	for _, i := range ifaces {
		addrs, err := i.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			pfx, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(pfx.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() || (iface == nil && ip.IsLoopback()) {
				continue
			}
			if len(out) < MaxTXTAddrs {
				out = append(out, ip)
			}
		}
	}
	return out
}
