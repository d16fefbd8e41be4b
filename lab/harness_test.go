package lab

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestHarness checks the lab itself: hosts reach each other across the
// bridge, the test process reaches a listener inside a host, a partition
// cuts the halves apart and Heal joins them, and nothing is left behind.
func TestHarness(t *testing.T) {
	l := New(t, 3)
	ctx := Context(t)
	ln, err := l.Hosts[2].Listen(l.Hosts[2].Addr.String() + ":9000")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	dial := func(h *Host) error {
		dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		c, err := h.DialContext(dctx, "tcp", l.Hosts[2].Addr.String()+":9000")
		if err != nil {
			return err
		}
		c.Close()
		return nil
	}
	if err := dial(l.Hosts[0]); err != nil {
		t.Fatalf("host 0 cannot reach host 2: %v", err)
	}
	l.Partition([]*Host{l.Hosts[2]})
	if err := dial(l.Hosts[0]); err == nil {
		t.Fatal("host 0 reached host 2 across a partition")
	}
	l.Heal()
	if err := dial(l.Hosts[1]); err != nil {
		t.Fatalf("host 1 cannot reach host 2 after healing: %v", err)
	}
	// The root namespace has no route to the lab.
	if out, err := l.Hosts[0].inNSOutput(); err == nil && !strings.Contains(out, "198.18.0.0/15") {
		t.Fatalf("host 0 routes: %s", out)
	}
	l.destroy()
	for _, ns := range Namespaces() {
		if strings.HasPrefix(ns, l.run) {
			t.Fatalf("namespace %s left behind", ns)
		}
	}
}

// TestImpair checks Impair: a TCP connect from an impaired host takes at
// least the added delay (its SYN waits), and one from a clean host to it
// too (the SYN-ACK waits), while data still flows both ways.
func TestImpair(t *testing.T) {
	l := New(t, 2)
	how := l.Hosts[0].Impair(Impairment{Delay: 100 * time.Millisecond})
	ctx := Context(t)
	ln, err := l.Hosts[1].Listen(l.Hosts[1].Addr.String() + ":9000")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write(make([]byte, 1<<20))
			c.Close()
		}
	}()
	start := time.Now()
	c, err := l.Hosts[0].DialContext(ctx, "tcp", l.Hosts[1].Addr.String()+":9000")
	if err != nil {
		t.Fatal(err)
	}
	rtt := time.Since(start)
	n, _ := io.Copy(io.Discard, c)
	c.Close()
	if rtt < 100*time.Millisecond || rtt > 300*time.Millisecond || n != 1<<20 {
		t.Fatalf("connect took %v (want 100-300 ms), read %d bytes", rtt, n)
	}
	t.Logf("impairment by %s: connect %v, 1 MiB read; emulator %+v", how, rtt, l.Hosts[0].ImpairStats())
}
