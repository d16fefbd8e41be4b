package nat

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/peerwire/peerwire/internal/clock"
)

// mapper is the Mapper of the modes that talk to a gateway: one goroutine
// runs attempts, woken by a clock timer or by Close.
type mapper struct {
	name     string
	cfg      Config
	discover discoverer

	ctx    context.Context // cancelled by Close: ends requests in flight
	cancel context.CancelFunc
	wake   chan struct{} // the timer's nudge; buffered 1
	done   chan struct{} // closed when the loop has returned

	mu       sync.Mutex // guards the fields below
	started  bool
	closed   bool
	external netip.AddrPort
	timer    clock.Timer
}

func newMapper(name string, cfg Config, d discoverer) *mapper {
	ctx, cancel := context.WithCancel(context.Background())
	return &mapper{name: name, cfg: cfg.withDefaults(), discover: d, ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (m *mapper) String() string { return m.name }

func (m *mapper) Start(port uint16, notify func(netip.AddrPort)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return ErrClosed
	case m.started:
		return errors.New("nat: Start called twice")
	case port == 0:
		return errors.New("nat: Start needs a port")
	}
	m.started = true
	if notify == nil {
		notify = func(netip.AddrPort) {}
	}
	go m.loop(port, notify)
	return nil
}

func (m *mapper) External() netip.AddrPort {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.external
}

func (m *mapper) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		<-m.waitDone()
		return nil
	}
	m.closed = true
	started := m.started
	if m.timer != nil {
		m.timer.Stop()
	}
	m.mu.Unlock()
	m.cancel()
	if started {
		<-m.done
	}
	return nil
}

// waitDone returns a channel closed once the loop is over (or never ran).
func (m *mapper) waitDone() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.started {
		c := make(chan struct{})
		close(c)
		return c
	}
	return m.done
}

// state is what the loop knows between attempts.
type state struct {
	port     uint16
	gw       gateway
	mappedOn gateway   // the gateway the mapping was last granted by
	extPort  uint16    // the external port last granted, 0 if none
	expires  time.Time // when the last granted lease ends
	failures int       // consecutive failed attempts
}

func (m *mapper) loop(port uint16, notify func(netip.AddrPort)) {
	defer close(m.done)
	st := &state{port: port}
	for {
		next := m.attempt(st, notify)
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			break
		}
		m.timer = m.cfg.Clock.AfterFunc(next, func() {
			select {
			case m.wake <- struct{}{}:
			default:
			}
		})
		m.mu.Unlock()
		select {
		case <-m.ctx.Done():
		case <-m.wake:
			continue
		}
		break
	}
	m.remove(st)
	m.set(netip.AddrPort{}, nil)
}

// attempt discovers the gateway if needed and maps the port once; it
// returns how long to wait before the next attempt.
func (m *mapper) attempt(st *state, notify func(netip.AddrPort)) time.Duration {
	log := m.cfg.Logger
	if st.gw == nil {
		gw, err := m.discoverOnce()
		if err != nil {
			return m.failed(st, notify, "discover", err)
		}
		st.gw = gw
	}
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.RequestTimeout)
	defer cancel()
	want := st.extPort
	if want == 0 {
		want = st.port
	}
	ext, lease, err := st.gw.addMapping(ctx, st.port, want, m.cfg.Description, m.cfg.Lease)
	if err != nil {
		return m.failed(st, notify, "map", err)
	}
	// Held from now on: Close removes it even if what follows fails.
	st.extPort = ext
	st.mappedOn = st.gw
	ip, err := st.gw.externalIP(ctx)
	if err != nil {
		return m.failed(st, notify, "external IP", err)
	}
	if lease < minLease {
		lease = minLease
	}
	addr := netip.AddrPortFrom(ip, ext)
	if st.failures > 0 || m.External() != addr {
		log.Info("nat: port mapped", "mode", m.name, "gateway", st.gw.String(), "external", addr.String(),
			"lease", lease)
	}
	st.failures = 0
	st.expires = m.cfg.Clock.Now().Add(lease)
	m.set(addr, notify)
	return lease / 2
}

// failed records a failed attempt: the gateway is dropped (it is
// discovered again next time: a restarted router may have moved), the
// address is dropped once the last lease has run out, and the wait before
// the next attempt doubles up to MaxBackoff. Only the first failure in a
// row is a warning; the others are debug messages.
func (m *mapper) failed(st *state, notify func(netip.AddrPort), what string, err error) time.Duration {
	if m.ctx.Err() != nil {
		return m.cfg.MaxBackoff
	}
	st.failures++
	st.gw = nil
	if st.failures == 1 {
		m.cfg.Logger.Warn("nat: port mapping failed; retrying with backoff", "mode", m.name, "step", what, "err", err)
	} else {
		m.cfg.Logger.Debug("nat: port mapping failed again", "mode", m.name, "step", what, "err", err,
			"failures", st.failures)
	}
	if !st.expires.IsZero() && !m.cfg.Clock.Now().Before(st.expires) {
		st.extPort = 0
		st.mappedOn = nil
		st.expires = time.Time{}
		m.set(netip.AddrPort{}, notify)
	}
	return backoff(m.cfg.MinBackoff, m.cfg.MaxBackoff, st.failures)
}

// backoff is min·2^(n-1), capped at max.
func backoff(min, max time.Duration, n int) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}

// set records the external address and tells notify when it changed.
func (m *mapper) set(addr netip.AddrPort, notify func(netip.AddrPort)) {
	m.mu.Lock()
	changed := m.external != addr
	m.external = addr
	m.mu.Unlock()
	if changed && notify != nil {
		notify(addr)
	}
}

func (m *mapper) discoverOnce() (gateway, error) {
	discoveryMu.Lock()
	defer discoveryMu.Unlock()
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.DiscoverTimeout+m.cfg.RequestTimeout)
	defer cancel()
	return m.discover(ctx, m.cfg)
}

// remove deletes the mapping held, if any, at Close.
func (m *mapper) remove(st *state) {
	if st.mappedOn == nil || st.extPort == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.RequestTimeout)
	defer cancel()
	if err := st.mappedOn.deleteMapping(ctx, st.port, st.extPort); err != nil {
		m.cfg.Logger.Warn("nat: removing the port mapping failed", "mode", m.name, "err", err)
		return
	}
	m.cfg.Logger.Info("nat: port mapping removed", "mode", m.name, "external_port", st.extPort)
}
