package nat

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huin/goupnp/dcps/internetgateway2"

	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
)

// TestUPnPSSDP: modes upnp and any find the fake IGD through an SSDP
// search on 127.0.0.1 (WANIPConnection:2 first, which it does not offer,
// then :1), map the port there and remove the mapping at Close.
func TestUPnPSSDP(t *testing.T) {
	for _, mode := range []string{"upnp", "any"} {
		t.Run(mode, func(t *testing.T) {
			f := newFakeIGD(t)
			addrs := make(chan netip.AddrPort, 8)
			m, err := Parse(mode, Config{Clock: clock.NewFake(), Logger: slog.New(slog.DiscardHandler),
				DiscoverTimeout: 1200 * time.Millisecond, RequestTimeout: 5 * time.Second, ssdpAddr: f.startSSDP(t)})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Start(26656, func(a netip.AddrPort) { addrs <- a }); err != nil {
				t.Fatal(err)
			}
			select {
			case a := <-addrs:
				if want := netip.MustParseAddrPort("203.0.113.7:26656"); a != want {
					t.Fatalf("external %v, want %v", a, want)
				}
			case <-time.After(waitFor):
				t.Fatal("no mapping through SSDP discovery")
			}
			if mp, ok := f.mapping("26656"); !ok || mp.client != "127.0.0.1" || mp.intPort != "26656" {
				t.Fatalf("mapping %+v %v", mp, ok)
			}
			want := []string{internetgateway2.URN_WANIPConnection_2, igdService}
			if got := f.searchTargets(); !slices.Equal(got, want) {
				t.Fatalf("searched %q, want %q", got, want)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if _, ok := f.mapping("26656"); ok || f.count("DeletePortMapping") != 1 {
				t.Fatalf("after Close: mapping kept %v, %d deletes", ok, f.count("DeletePortMapping"))
			}
		})
	}
}

// TestDiscoverySerialised: two mappers discovering at once take turns,
// since some routers answer parallel SSDP searches badly: the second
// waits on the lock while the first searches, and no more than one
// discovery ever runs.
func TestDiscoverySerialised(t *testing.T) {
	var active, most atomic.Int32
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	d := func(ctx context.Context, _ Config) (gateway, error) {
		n := active.Add(1)
		defer active.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, errors.New("no gateway")
	}
	clk := clock.NewFake() // never advanced: one attempt each
	var ms []*mapper
	for range 2 {
		m := newMapper("test", Config{Clock: clk}, d)
		ms = append(ms, m)
		t.Cleanup(func() { m.Close() })
		if err := m.Start(26656, nil); err != nil {
			t.Fatal(err)
		}
	}
	<-entered
	// Both mappers are in discoverOnce: one discovering, one waiting for
	// it (or, without the lock, discovering too).
	testutil.Eventually(t, waitFor, "both mappers discovering", func() bool {
		buf := make([]byte, 1<<20)
		return strings.Count(string(buf[:runtime.Stack(buf, true)]), "nat.(*mapper).discoverOnce(") == 2
	})
	if n := most.Load(); n != 1 {
		t.Fatalf("%d discoveries at once", n)
	}
	close(release)
	<-entered
	for _, m := range ms {
		m.Close()
	}
	if n := most.Load(); n != 1 {
		t.Fatalf("%d discoveries at once, want 1", n)
	}
}
