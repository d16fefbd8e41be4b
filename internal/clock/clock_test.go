package clock

import (
	"testing"
	"time"
)

func TestFakeTimersFireInOrder(t *testing.T) {
	c := NewFake()
	var got []int
	c.AfterFunc(3*time.Second, func() { got = append(got, 3) })
	c.AfterFunc(time.Second, func() { got = append(got, 1) })
	stopped := c.AfterFunc(2*time.Second, func() { got = append(got, 2) })
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	c.Advance(2 * time.Second)
	if len(got) != 1 || got[0] != 1 {
		t.Fatalf("after 2 s fired %v, want [1]", got)
	}
	if want := Start.Add(2 * time.Second); !c.Now().Equal(want) {
		t.Fatalf("Now = %v, want %v", c.Now(), want)
	}
	stopped.Reset(2 * time.Second) // due at 4 s
	c.Advance(5 * time.Second)
	if len(got) != 3 || got[1] != 3 || got[2] != 2 {
		t.Fatalf("fired %v, want [1 3 2]", got)
	}
	if c.Pending() != 0 {
		t.Fatalf("Pending = %d after every timer fired", c.Pending())
	}
}

func TestFakeTimerSeesItsTime(t *testing.T) {
	c := NewFake()
	var at time.Time
	c.AfterFunc(time.Minute, func() { at = c.Now() })
	c.Advance(time.Hour)
	if want := Start.Add(time.Minute); !at.Equal(want) {
		t.Fatalf("timer saw %v, want %v", at, want)
	}
}

func TestFakeTicker(t *testing.T) {
	c := NewFake()
	tk := c.NewTicker(time.Second)
	c.Advance(500 * time.Millisecond)
	select {
	case <-tk.C():
		t.Fatal("ticked before its period")
	default:
	}
	c.Advance(600 * time.Millisecond)
	select {
	case v := <-tk.C():
		if want := Start.Add(time.Second); !v.Equal(want) {
			t.Fatalf("tick at %v, want %v", v, want)
		}
	default:
		t.Fatal("no tick after its period")
	}
	c.Advance(10 * time.Second) // the reader is behind: one tick kept
	<-tk.C()
	select {
	case <-tk.C():
		t.Fatal("more than one tick buffered")
	default:
	}
	tk.Stop()
	c.Advance(10 * time.Second)
	select {
	case <-tk.C():
		t.Fatal("tick after Stop")
	default:
	}
}

func TestRealAndOr(t *testing.T) {
	if Or(nil) == nil {
		t.Fatal("Or(nil) is nil")
	}
	f := NewFake()
	if Or(f) != Clock(f) {
		t.Fatal("Or(c) is not c")
	}
	before := time.Now()
	if Real().Now().Before(before) {
		t.Fatal("Real().Now went backwards")
	}
	done := make(chan struct{})
	Real().AfterFunc(time.Millisecond, func() { close(done) })
	<-done
	tk := Real().NewTicker(time.Millisecond)
	<-tk.C()
	tk.Stop()
}
