package peerset

import (
	"sync"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// TestConcurrentUse runs every kind of call from several goroutines (for
// the race detector) and then checks the Set's books balance.
func TestConcurrentUse(t *testing.T) {
	ctr := newCounter(3, 0)
	mc := []crypto.Address{mustAddr(1), mustAddr(2)}
	s, clk := newSetWith(t, Config{MaxInbound: 20, MaxOutbound: 8, MustConnect: mc, GracePeriod: -1}, Deps{Counter: ctr})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				n := 1 + (w*300+i)%60
				dir := Inbound
				if i%3 == 0 {
					dir = Outbound
				}
				now := clk.Now()
				p, replaced, err := s.Admit(info(n, dir), now)
				_ = replaced.Disconnect(ReasonDuplicate, "")
				if err == nil && i%2 == 0 {
					s.Remove(p)
				}
				if b := s.Record(pid(n), EventRateExceeded); b != nil {
					_ = b.Peer.Disconnect(ReasonLowReputation, b.Reason)
				}
				for _, v := range s.Trim(now) {
					_ = v.Disconnect(ReasonTrimmed, "")
				}
				switch i % 7 {
				case 0:
					s.Decay(advance(clk, time.Second))
				case 1:
					for _, a := range s.DueRedials(now) {
						s.RedialFailed(a.ID, now)
					}
				case 2:
					_ = s.CheckDial(pid(n), addrOf(n).Addr(), now)
				case 3:
					_ = s.Peers()
					_ = s.Counts()
				case 4:
					_, _ = s.EarliestRedial(now)
				}
			}
		}()
	}
	wg.Wait()

	peers := s.Peers()
	if ctr.total() != len(peers) {
		t.Fatalf("counter %d, peers %d", ctr.total(), len(peers))
	}
	// A duplicate's survivor may take the other direction past its limit
	// (it replaces a connection one for one), so only the sum is bounded.
	c := s.Counts()
	var in, out, must int
	for _, p := range peers {
		switch {
		case p.MustConnect:
			must++
		case p.Direction == Inbound:
			in++
		default:
			out++
		}
	}
	if c.InboundSlots != in || c.OutboundSlots != out || c.MustConnectUp != must || in+out > 28 {
		t.Fatalf("counts %+v; counted in %d out %d must %d", c, in, out, must)
	}
	for _, p := range s.Close() {
		_ = p.Disconnect(ReasonShutdown, "")
	}
	if ctr.total() != 0 {
		t.Fatalf("counter %d after Close", ctr.total())
	}
}
