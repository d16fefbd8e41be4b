package filter

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestLoopbackTCP accepts real TCP connections on loopback from source
// addresses the generated database places in Germany and the United States,
// and applies Check to each before anything is read, as the node's accept
// loop does.
func TestLoopbackTCP(t *testing.T) {
	f := newTestFilter(t, Config{CountryDB: testDB(t), DenyCountries: []string{"DE"}, MaxPerIP: 1})
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()

	type result struct {
		from netip.Addr
		d    Decision
	}
	results := make(chan result)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(results)
				return
			}
			from := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()
			d := f.Check(from, Inbound)
			if d.Allowed() {
				rel, _ := f.Acquire(from)
				rel()
			}
			c.Close()
			results <- result{from, d}
		}
	}()

	for _, tt := range []struct {
		src  string
		want Decision
	}{
		{"127.0.1.10", Decision{ReasonCountryDenied, "DE"}},
		{"127.0.2.10", Decision{ReasonAllowed, "US"}},
		{"127.0.0.1", Decision{Reason: ReasonAllowed}}, // unknown country: allowed
	} {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tt.src)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Skipf("cannot bind %s on this host: %v", tt.src, err)
		}
		r := <-results
		c.Close()
		if r.from != addr(tt.src) || r.d != tt.want {
			t.Errorf("from %v: %v, want %s: %v", r.from, r.d, tt.src, tt.want)
		}
	}
	ln.Close()
	for range results {
	}
}
