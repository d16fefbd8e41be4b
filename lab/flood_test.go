package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// flood holds conns connections open to target from the given source
// addresses of the attacker host; none ever completes a handshake. A third
// stay silent, a third send a partial hello and stall, a third drip one
// byte a second. A connection the victim closes is redialed 50 ms later.
type flood struct {
	attempts, open, maxOpen, closedFast atomic.Int64
	wg                                  sync.WaitGroup
}

func startFlood(ctx context.Context, h *Host, srcs []string, conns int, target string) *flood {
	f := &flood{}
	for i := 0; i < conns; i++ {
		src := srcs[i%len(srcs)]
		mode := i % 3
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for ctx.Err() == nil {
				f.attempts.Add(1)
				dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				c, err := h.DialFrom(dctx, src, target)
				cancel()
				if err != nil {
					sleepCtx(ctx, 200*time.Millisecond)
					continue
				}
				o := f.open.Add(1)
				for {
					m := f.maxOpen.Load()
					if o <= m || f.maxOpen.CompareAndSwap(m, o) {
						break
					}
				}
				start := time.Now()
				f.hold(ctx, c, mode)
				if time.Since(start) < 100*time.Millisecond {
					f.closedFast.Add(1)
				}
				f.open.Add(-1)
				c.Close()
				sleepCtx(ctx, 50*time.Millisecond)
			}
		}()
	}
	return f
}

// hold keeps c open in its mode until the peer closes it or ctx ends.
func (f *flood) hold(ctx context.Context, c net.Conn, mode int) {
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			c.Close()
		case <-done:
		}
	}()
	defer close(done)
	switch mode {
	case 1:
		c.Write(bytes.Repeat([]byte{0x50}, 10)) // the start of a hello, never finished
	case 2:
		go func() {
			for i := 0; ; i++ {
				if _, err := c.Write([]byte{byte(i)}); err != nil {
					return
				}
				select {
				case <-done:
					return
				case <-time.After(time.Second):
				}
			}
		}()
	}
	var b [64]byte
	for {
		if _, err := c.Read(b[:]); err != nil {
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// TestHandshakeFlood runs a thousand never-finishing connections against a
// `peerwire node` victim, first from one attacker address, then from 200,
// and checks that honest peers still connect and traffic keeps flowing.
//
// Bounds: an already connected peer's gossip keeps reaching the others
// through the victim without a single disconnect (established connections
// do not share anything with the handshake budget). An honest peer the
// victim dials connects within 10 s (outbound handshakes do not use the
// inbound budget). From one attacker address, a new honest inbound peer
// connects within 15 s: the per-IP throttle (burst 4, then one attempt
// per 2 s) keeps one address to a handful of the 64 handshake slots. From
// 200 addresses the attacker's attempts arrive faster than the 5 s
// handshake timeout frees slots, so every slot is busy; the honest inbound
// peer still gets in within 15 s because a newcomer takes the slot of the
// oldest connection still in its handshake (p2p openSlots): the flood turns
// the slots over in well under a second, an honest handshake takes a few
// milliseconds.
func TestHandshakeFlood(t *testing.T) {
	l := New(t, 5)
	ctx := Context(t)
	attacker := l.Hosts[4]
	var srcs []string
	var cidrs []string
	for i := 1; i <= 200; i++ {
		a := fmt.Sprintf("198.19.1.%d", i)
		srcs = append(srcs, a)
		cidrs = append(cidrs, a+"/15")
	}
	attacker.AddAddrs(cidrs)

	v := newPWNode(t, l.Hosts[0], "v", "-max-inbound", "40")
	v.start("run")
	lab := []string{"-network", "peerwire-lab", "-chain", "lab-1", "-ping", "1s", "-idle", "5s", "-probe-every", "0", "-backoff-cap", "2s"}
	l1 := startLabNode(t, l.Hosts[1], "l1", append(lab, "-bootstrap", v.addr, "-vote-every", "100ms")...)
	testutil.Eventually(t, 20*time.Second, "L1 connected to V", func() bool { return v.peerSet()[Identity("l1").ID().String()] })
	target := listenAddr(l.Hosts[0])
	key := strconv.Itoa(l1.Host.Index)

	phase := func(name string, srcs []string, inboundBound time.Duration, l2Name, l3Name string, l2Host, l3Host *Host) {
		fctx, stop := context.WithCancel(ctx)
		f := startFlood(fctx, attacker, srcs, 1000, target)
		defer func() { stop(); f.wg.Wait() }()
		time.Sleep(3 * time.Second) // the flood at full strength
		// An honest peer the victim dials (admin API POST /peers).
		l2 := startLabNode(t, l2Host, l2Name, lab...)
		dialStart := time.Now()
		body := fmt.Sprintf(`{"addr":%q}`, NodeAddr(l2Name, listenAddr(l2Host)))
		go func() {
			req, _ := newPost(ctx, pwAdmin+"/peers", body)
			if resp, err := v.Host.HTTP().Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		out := testutil.Eventually(t, 10*time.Second, name+": V's outbound dial to "+l2Name, func() bool { return v.peerSet()[Identity(l2Name).ID().String()] })
		_ = dialStart
		// A new honest peer dialing in.
		l3 := startLabNode(t, l3Host, l3Name, append(lab, "-bootstrap", v.addr)...)
		in := testutil.Eventually(t, inboundBound, name+": "+l3Name+" admitted inbound", func() bool { return v.peerSet()[Identity(l3Name).ID().String()] })
		// Traffic from L1 reaches both through V.
		base2, base3 := l2.mustStats(t).RecvVotes[key], l3.mustStats(t).RecvVotes[key]
		flow := testutil.Eventually(t, 10*time.Second, name+": L1's votes at "+l2Name+" and "+l3Name, func() bool {
			return l2.mustStats(t).RecvVotes[key] >= base2+20 && l3.mustStats(t).RecvVotes[key] >= base3+20
		})
		rss, _ := v.Stats()
		r := l1.mustStats(t)
		if r.Disconnects != 0 {
			t.Errorf("%s: L1 saw %d disconnects", name, r.Disconnects)
		}
		figure(t, "%s: 1000 attacker connections (%d attempts so far, up to %d open at once, %d closed by the victim within 100 ms); honest outbound dial connected in %v, new honest inbound peer admitted in %v, L1's votes reached both in %v more; L1 disconnects %d; victim RSS %d MiB, threads %d, fds %d",
			name, f.attempts.Load(), f.maxOpen.Load(), f.closedFast.Load(), out.Round(100*time.Millisecond), in.Round(100*time.Millisecond), flow.Round(100*time.Millisecond), r.Disconnects, rss.RSSKiB>>10, rss.Threads, rss.FDs)
		l2.Kill()
		l3.Kill()
	}
	phase("one attacker address", srcs[:1], 15*time.Second, "l2", "l3", l.Hosts[2], l.Hosts[3])
	phase("200 attacker addresses", srcs, 15*time.Second, "l4", "l5", l.Hosts[2], l.Hosts[3])
	b, _ := v.Host.Get(ctx, pwAdmin+"/metrics")
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.Contains(line, []byte("handshake")) || bytes.Contains(line, []byte("refus")) {
			if !bytes.HasPrefix(line, []byte("#")) {
				t.Logf("victim metric: %s", line)
			}
		}
	}
}
