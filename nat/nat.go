package nat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/peerwire/peerwire/internal/clock"
)

// Mapper keeps the node's listen port reachable from outside its NAT.
// Implementations are safe for concurrent use.
type Mapper interface {
	// Start begins mapping the TCP port and returns at once; the work goes
	// on in the Mapper's goroutines until Close. notify, if not nil, is
	// called from one of those goroutines, never concurrently with
	// itself, each time the external address changes: a valid address
	// once a mapping holds, the zero AddrPort once it is lost. Start fails
	// when called twice or after Close, or for port 0.
	Start(port uint16, notify func(netip.AddrPort)) error
	// External returns the external address of the mapping now held, or
	// the zero AddrPort when there is none (before Start, while the
	// gateway is being discovered, after a loss and after Close).
	External() netip.AddrPort
	// Close stops the Mapper: it ends its requests in flight, removes the
	// mapping from the gateway (bounded by Config.RequestTimeout) and
	// waits for its goroutines; notify is not called once Close has
	// returned. Close is idempotent; a Mapper cannot be started again.
	Close() error
	// String names the mode, as Parse accepts it.
	String() string
}

// Config tunes a Mapper; the zero value means the documented defaults.
type Config struct {
	// Clock drives renewals and backoff. Default clock.Real().
	Clock clock.Clock
	// Logger receives the Mapper's few messages: one warning when mapping
	// first fails, one info when it succeeds or recovers. nil is silent.
	Logger *slog.Logger
	// Lease is the lease asked for. Default DefaultLease.
	Lease time.Duration
	// RequestTimeout bounds one request to the gateway. Default
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// DiscoverTimeout bounds one SSDP search. Default DefaultDiscoverTimeout.
	DiscoverTimeout time.Duration
	// MinBackoff and MaxBackoff bound the doubling wait between failed
	// attempts. Defaults DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Description names the mapping on the router. Default DefaultDescription.
	Description string

	// ssdpAddr, when valid, is the one UDP address SSDP searches go to,
	// from a socket bound to its IP (tests: the fake IGD's responder on
	// 127.0.0.1). The zero value searches as goupnp does: the multicast
	// group from every multicast-capable IPv4 interface.
	ssdpAddr netip.AddrPort
}

func (c Config) withDefaults() Config {
	c.Clock = clock.Or(c.Clock)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.DiscoverTimeout <= 0 {
		c.DiscoverTimeout = DefaultDiscoverTimeout
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.Description == "" {
		c.Description = DefaultDescription
	}
	return c
}

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("nat: mapper closed")

// Modes is the list of modes Parse accepts, for flag help texts.
const Modes = "any|upnp|upnp:URL|pmp|pmp:IP|extip:IP|none"

// Parse turns a mode (see the package doc) into a Mapper configured by
// cfg. "none" and "" give a nil Mapper and no error. Errors name the
// operator's -nat flag.
func Parse(mode string, cfg Config) (Mapper, error) {
	kind, arg, hasArg := strings.Cut(strings.TrimSpace(mode), ":")
	bad := func(format string, a ...any) error {
		return fmt.Errorf("-nat %q: %s (want %s)", mode, fmt.Sprintf(format, a...), Modes)
	}
	switch strings.ToLower(kind) {
	case "", "none":
		if hasArg {
			return nil, bad("none takes no argument")
		}
		return nil, nil
	case "any":
		if hasArg {
			return nil, bad("any takes no argument")
		}
		return newMapper("any", cfg, anyDiscoverer()), nil
	case "upnp":
		if !hasArg {
			return newMapper("upnp", cfg, upnpSSDP), nil
		}
		u, err := url.Parse(arg)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, bad("upnp: wants an http URL of the gateway's root device description")
		}
		return newMapper("upnp:"+arg, cfg, upnpAt(u)), nil
	case "pmp":
		if !hasArg {
			return newMapper("pmp", cfg, pmpDefaultGateway), nil
		}
		ip, err := netip.ParseAddr(arg)
		if err != nil || !ip.Unmap().Is4() {
			return nil, bad("pmp: wants the gateway's IPv4 address")
		}
		return newMapper("pmp:"+arg, cfg, pmpAt(ip.Unmap())), nil
	case "extip":
		ip, err := netip.ParseAddr(arg)
		if !hasArg || err != nil || ip.IsUnspecified() {
			return nil, bad("extip: wants the node's public IP address")
		}
		return &extIP{ip: ip.Unmap()}, nil
	}
	return nil, bad("unknown mode %q", kind)
}

// extIP is the Mapper of mode extip:IP: no request to anyone, the
// operator's address with the listen port.
type extIP struct {
	ip   netip.Addr
	mu   sync.Mutex // guards the fields below
	port uint16
	done bool
}

func (e *extIP) Start(port uint16, notify func(netip.AddrPort)) error {
	e.mu.Lock()
	switch {
	case e.done:
		e.mu.Unlock()
		return ErrClosed
	case e.port != 0:
		e.mu.Unlock()
		return errors.New("nat: Start called twice")
	case port == 0:
		e.mu.Unlock()
		return errors.New("nat: Start needs a port")
	}
	e.port = port
	e.mu.Unlock()
	if notify != nil {
		notify(netip.AddrPortFrom(e.ip, port))
	}
	return nil
}

func (e *extIP) External() netip.AddrPort {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done || e.port == 0 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(e.ip, e.port)
}

func (e *extIP) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done = true
	return nil
}

func (e *extIP) String() string { return "extip:" + e.ip.String() }

// gateway is one discovered router speaking one protocol.
type gateway interface {
	// addMapping maps TCP extPort on the gateway to intPort on this host
	// and returns the external port and lease the gateway granted.
	addMapping(ctx context.Context, intPort, extPort uint16, desc string, lease time.Duration) (uint16, time.Duration, error)
	// deleteMapping removes the mapping of TCP extPort to intPort.
	deleteMapping(ctx context.Context, intPort, extPort uint16) error
	// externalIP returns the gateway's public address.
	externalIP(ctx context.Context) (netip.Addr, error)
	// String names the gateway for logs.
	String() string
}

// discoverer finds a gateway.
type discoverer func(ctx context.Context, cfg Config) (gateway, error)

// discoveryMu makes discoveries one at a time in the process: some
// routers answer parallel SSDP searches badly or not at all.
var discoveryMu sync.Mutex

// localIPToward returns the address this host uses to reach host (no
// packet is sent: a UDP "connect" only picks the route).
func localIPToward(host netip.Addr) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(host, 9)))
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}
