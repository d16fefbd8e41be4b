package p2p

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/nat"
)

// stubMapper is a nat.Mapper the test drives: set reports an address
// from the mapper's own goroutine, as a real one does.
type stubMapper struct {
	mu     sync.Mutex
	port   uint16
	notify func(netip.AddrPort)
	ext    netip.AddrPort
	closed bool
	in     chan netip.AddrPort
	done   chan struct{}
}

func newStubMapper() *stubMapper {
	return &stubMapper{in: make(chan netip.AddrPort), done: make(chan struct{})}
}

func (s *stubMapper) Start(port uint16, notify func(netip.AddrPort)) error {
	s.mu.Lock()
	s.port, s.notify = port, notify
	s.mu.Unlock()
	go func() {
		defer close(s.done)
		for a := range s.in {
			s.mu.Lock()
			s.ext = a
			s.mu.Unlock()
			notify(a)
		}
	}()
	return nil
}

func (s *stubMapper) set(a netip.AddrPort) { s.in <- a }

func (s *stubMapper) External() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ext
}

func (s *stubMapper) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.in)
	<-s.done
	return nil
}

func (s *stubMapper) String() string { return "stub" }

func nextEvent(t *testing.T, sub *Subscription, kind EventKind) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-sub.C:
			if e.Kind == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("no %v event", kind)
		}
	}
}

func TestNATExtIPAdvertised(t *testing.T) {
	m, err := nat.Parse("extip:203.0.113.5", nat.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, 1)
	cfg.NAT = m
	a := startNode(t, cfg)
	b := startNode(t, testConfig(t, 2))
	want := a.ID().String() + "@203.0.113.5:" + portOf(a)
	if got := a.ExternalAddr().String(); got != "203.0.113.5:"+portOf(a) {
		t.Fatalf("ExternalAddr %s", got)
	}
	if _, err := b.Dial(context.Background(), a.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	p, ok := b.Peer(a.ID())
	if !ok || !slices.Contains(p.ListenAddrs, want) || !slices.Contains(p.ListenAddrs, a.ListenAddr().String()) {
		t.Fatalf("advertised %v, want %s among them and the listen address", p.ListenAddrs, want)
	}
}

func TestNATAddressChangesAndStop(t *testing.T) {
	m := newStubMapper()
	cfg := testConfig(t, 1)
	cfg.NAT = m
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sub := a.Subscribe()
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.port != a.ListenAddr().Port {
		t.Fatalf("mapper started for port %d, want %d", m.port, a.ListenAddr().Port)
	}
	ext := netip.AddrPortFrom(netip.MustParseAddr("198.51.100.20"), 40000)
	m.set(ext)
	if e := nextEvent(t, sub, EventExternalAddress); e.Addr != ext {
		t.Fatalf("event address %v, want %v", e.Addr, ext)
	}
	b := startNode(t, testConfig(t, 2))
	if _, err := b.Dial(context.Background(), a.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	p, _ := b.Peer(a.ID())
	if !slices.Contains(p.ListenAddrs, a.ID().String()+"@"+ext.String()) {
		t.Fatalf("advertised %v, want the mapped address among them", p.ListenAddrs)
	}
	m.set(netip.AddrPort{}) // the mapping is lost
	if e := nextEvent(t, sub, EventExternalAddress); e.Addr.IsValid() {
		t.Fatalf("event address %v after a loss, want none", e.Addr)
	}
	if a.ExternalAddr().IsValid() {
		t.Fatal("ExternalAddr after a loss")
	}
	c := startNode(t, testConfig(t, 3))
	if _, err := c.Dial(context.Background(), a.ListenAddr().String()); err != nil {
		t.Fatal(err)
	}
	p, _ = c.Peer(a.ID())
	if len(p.ListenAddrs) != 1 {
		t.Fatalf("advertised %v after the loss, want only the listen address", p.ListenAddrs)
	}
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if !closed {
		t.Fatal("Stop did not close the mapper")
	}
}

func portOf(n *Node) string {
	return netip.AddrPortFrom(netip.IPv4Unspecified(), n.ListenAddr().Port).String()[len("0.0.0.0:"):]
}
