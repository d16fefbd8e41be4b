package p2p_test

import (
	"context"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/p2p"
)

// fixedClock is a clock defined outside the module's internal packages,
// as an application's would be: real timers, and a Now that stands at
// at. It compiles only because p2p exports Clock, Timer and Ticker.
type fixedClock struct{ at time.Time }

func (c fixedClock) Now() time.Time { return c.at }

func (fixedClock) AfterFunc(d time.Duration, f func()) p2p.Timer { return time.AfterFunc(d, f) }

func (fixedClock) NewTicker(d time.Duration) p2p.Ticker { return ticker{time.NewTicker(d)} }

type ticker struct{ t *time.Ticker }

func (t ticker) C() <-chan time.Time   { return t.t.C }
func (t ticker) Stop()                 { t.t.Stop() }
func (t ticker) Reset(d time.Duration) { t.t.Reset(d) }

// TestClockFromOutside: an application sets Config.Clock to a type of its
// own, and the node measures on it: a ban ends its duration after the
// application's Now, not the system's.
func TestClockFromOutside(t *testing.T) {
	at := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	id, err := crypto.GenerateIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := p2p.New(p2p.Config{Identity: id, ListenAddr: "127.0.0.1:0", NetworkID: "clock-test",
		Topics: []p2p.TopicConfig{{TopicConfig: mux.TopicConfig{ID: 1, Name: "votes", MaxMessageSize: 1 << 10}}},
		Clock:  fixedClock{at}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer n.Stop(context.Background())
	var peer crypto.ID
	peer[0] = 1
	if err := n.Ban(peer, time.Hour, "test"); err != nil {
		t.Fatal(err)
	}
	bans := n.Bans()
	if len(bans) != 1 || !bans[0].Until.Equal(at.Add(time.Hour)) {
		t.Fatalf("bans %+v, want one until %v (the application's clock plus an hour)", bans, at.Add(time.Hour))
	}
	// The fake clock the module's tests use is open to applications too.
	var _ p2p.Clock = p2p.NewFakeClock()
	var _ p2p.Clock = p2p.RealClock()
}
