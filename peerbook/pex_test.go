package peerbook

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

func TestIngestPexValidation(t *testing.T) {
	clk := newClock()
	cfg, deps := Config{}, testDeps(clk)
	deps.Filter = fixedFilter{map[netip.Addr]bool{netip.MustParseAddr("14.4.4.4"): true}}
	b := newTestBook(t, cfg, deps)
	if err := b.Ban(idN(20), time.Hour, "x"); err != nil {
		t.Fatal(err)
	}
	id := func(n uint64) []byte { x := idN(n); return x[:] }
	tests := []struct {
		name string
		pa   *pb.PeerAddress
		want IgnoreReason
	}{
		{"ok ipv4", &pb.PeerAddress{Id: id(1), Host: "11.1.1.1", Port: 26656}, ignoreNone},
		{"ok ipv6", &pb.PeerAddress{Id: id(2), Host: "2a01:4f8::2", Port: 26656}, ignoreNone},
		{"dns", &pb.PeerAddress{Id: id(3), Host: "Node-1.Example.org", Port: 26656}, IgnoreName}, // see TestNetworkNames
		{"ok mapped", &pb.PeerAddress{Id: id(4), Host: "::ffff:11.9.9.9", Port: 26656}, ignoreNone},
		{"short id", &pb.PeerAddress{Id: id(5)[:19], Host: "11.1.1.2", Port: 1}, IgnoreInvalid},
		{"long id", &pb.PeerAddress{Id: append(id(5), 0), Host: "11.1.1.2", Port: 1}, IgnoreInvalid},
		{"zero id", &pb.PeerAddress{Id: make([]byte, 20), Host: "11.1.1.2", Port: 1}, IgnoreInvalid},
		{"port 0", &pb.PeerAddress{Id: id(6), Host: "11.1.1.2", Port: 0}, IgnoreInvalid},
		{"port 65536", &pb.PeerAddress{Id: id(6), Host: "11.1.1.2", Port: 65536}, IgnoreInvalid},
		{"empty host", &pb.PeerAddress{Id: id(6), Port: 1}, IgnoreInvalid},
		{"bracketed host", &pb.PeerAddress{Id: id(6), Host: "[::1]", Port: 1}, IgnoreInvalid},
		{"zone", &pb.PeerAddress{Id: id(6), Host: "fe80::1%eth0", Port: 1}, IgnoreInvalid},
		{"host with port", &pb.PeerAddress{Id: id(6), Host: "11.1.1.1:5", Port: 1}, IgnoreInvalid},
		{"bad name", &pb.PeerAddress{Id: id(6), Host: "exa mple.org", Port: 1}, IgnoreInvalid},
		{"long name", &pb.PeerAddress{Id: id(6), Host: string(make([]byte, 300)), Port: 1}, IgnoreInvalid},
		{"loopback", &pb.PeerAddress{Id: id(7), Host: "127.0.0.1", Port: 1}, IgnoreUnroutable},
		{"private", &pb.PeerAddress{Id: id(8), Host: "10.0.0.1", Port: 1}, IgnoreUnroutable},
		{"cgnat", &pb.PeerAddress{Id: id(8), Host: "100.64.1.1", Port: 1}, IgnoreUnroutable},
		{"unspecified", &pb.PeerAddress{Id: id(9), Host: "0.0.0.0", Port: 1}, IgnoreUnroutable},
		{"multicast", &pb.PeerAddress{Id: id(9), Host: "239.1.1.1", Port: 1}, IgnoreUnroutable},
		{"link-local v6", &pb.PeerAddress{Id: id(9), Host: "fe80::1", Port: 1}, IgnoreUnroutable},
		{"ula", &pb.PeerAddress{Id: id(9), Host: "fd12::1", Port: 1}, IgnoreUnroutable},
		{"reserved", &pb.PeerAddress{Id: id(9), Host: "250.1.1.1", Port: 1}, IgnoreUnroutable},
		{"localhost name", &pb.PeerAddress{Id: id(9), Host: "localhost", Port: 1}, IgnoreUnroutable},
		{".local name", &pb.PeerAddress{Id: id(9), Host: "box.local", Port: 1}, IgnoreUnroutable},
		{"filtered", &pb.PeerAddress{Id: id(10), Host: "14.4.4.4", Port: 1}, IgnoreFiltered},
		{"self", &pb.PeerAddress{Id: deps.SelfID[:], Host: "11.1.1.3", Port: 1}, IgnoreSelf},
		{"banned", &pb.PeerAddress{Id: id(20), Host: "11.1.1.4", Port: 1}, IgnoreBanned},
	}
	from := addrOf(idN(100), "15.1.1.1", 26656)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := ingest(t, b, from, &pb.PexResponse{Addrs: []*pb.PeerAddress{tt.pa}})
			if tt.want == ignoreNone {
				if res.Added != 1 {
					t.Fatalf("not added: %+v", res)
				}
				e, _ := b.Get(crypto.ID(tt.pa.Id))
				if e.Source.Kind != SourcePEX || e.Source.From != from.ID || e.Source.Host != from.Host {
					t.Fatalf("source %+v", e.Source)
				}
				if e.Failures != 0 || e.Tried || !e.LastSuccess.IsZero() {
					t.Fatalf("ingested entry carries history: %+v", e)
				}
				return
			}
			if res.Added != 0 || res.Ignored[tt.want] != 1 {
				t.Fatalf("result %+v, want one %v", res, tt.want)
			}
		})
	}
	if e, ok := b.Get(idN(4)); !ok || e.Addr.Host != "11.9.9.9" {
		t.Fatalf("mapped host not unmapped: %v", e.Addr)
	}
	checkInvariants(t, b)
}

func TestIngestPexAllowedPrivate(t *testing.T) {
	cfg, deps := Config{}, testDeps(newClock())
	cfg.AllowPrivate, cfg.AllowLoopback = true, true
	b := newTestBook(t, cfg, deps)
	res := ingest(t, b, addrOf(idN(100), "127.0.0.1", 1), pexResp(
		addrOf(idN(1), "127.0.0.1", 2), addrOf(idN(2), "10.0.0.1", 2), addrOf(idN(3), "fd00::1", 2)))
	if res.Added != 3 {
		t.Fatalf("%+v", res)
	}
}

func TestIngestPexUnsolicited(t *testing.T) {
	clk := newClock()
	b := newTestBook(t, Config{}, testDeps(clk))
	from := addrOf(idN(100), "15.1.1.1", 26656)
	resp := pexResp(addrOf(idN(1), "11.1.1.1", 1))
	res, err := b.IngestPex(from, resp)
	if !errors.Is(err, ErrPexUnsolicited) || !res.Unsolicited || res.Added != 0 || b.Len() != 0 {
		t.Fatalf("never asked: %+v %v", res, err)
	}
	// One request, one response.
	if err := b.MarkPexRequested(from.ID); err != nil {
		t.Fatal(err)
	}
	if res, err := b.IngestPex(from, resp); err != nil || res.Added != 1 {
		t.Fatalf("solicited: %+v %v", res, err)
	}
	if _, err := b.IngestPex(from, resp); !errors.Is(err, ErrPexUnsolicited) {
		t.Fatalf("second response: %v", err)
	}
	// Too late.
	if err := b.MarkPexRequested(from.ID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(DefaultPexResponseTimeout + time.Second)
	if _, err := b.IngestPex(from, resp); !errors.Is(err, ErrPexUnsolicited) {
		t.Fatalf("late response: %v", err)
	}
	// Someone else answering our request to from.
	if err := b.MarkPexRequested(from.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.IngestPex(addrOf(idN(101), "15.1.1.2", 1), resp); !errors.Is(err, ErrPexUnsolicited) {
		t.Fatalf("wrong responder: %v", err)
	}
}

// TestPexAsksCounted: each request to a peer asks for one response, so
// two requests sent before the first answer make both answers solicited
// (the node asks on admission and in its PEX round); requests that expired
// are forgotten, not added to; at most maxPexAsksPerPeer count at once.
func TestPexAsksCounted(t *testing.T) {
	tests := []struct {
		name      string
		asks      int
		expireMid bool // the first asks expire before the last one
		solicited int  // answers accepted, then one more is unsolicited
	}{
		{"one", 1, false, 1},
		{"two before an answer", 2, false, 2},
		{"expired asks forgotten", 3, true, 1},
		{"capped", maxPexAsksPerPeer + 3, false, maxPexAsksPerPeer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			b := newTestBook(t, Config{}, testDeps(clk))
			from := addrOf(idN(100), "15.1.1.1", 26656)
			for i := range tt.asks {
				if tt.expireMid && i == tt.asks-1 {
					clk.Advance(DefaultPexResponseTimeout + time.Second)
				}
				if err := b.MarkPexRequested(from.ID); err != nil {
					t.Fatal(err)
				}
			}
			for i := range tt.solicited {
				resp := pexResp(addrOf(idN(uint64(i+1)), publicIP(uint32(i)<<16), 1))
				if _, err := b.IngestPex(from, resp); err != nil {
					t.Fatalf("answer %d of %d: %v", i+1, tt.solicited, err)
				}
			}
			if _, err := b.IngestPex(from, pexResp()); !errors.Is(err, ErrPexUnsolicited) {
				t.Fatalf("answer %d: %v, want unsolicited", tt.solicited+1, err)
			}
			checkInvariants(t, b)
		})
	}
}

func TestIngestPexExcess(t *testing.T) {
	cfg, deps := Config{}, testDeps(newClock())
	cfg.MaxPexAddrs = 10
	b := newTestBook(t, cfg, deps)
	var addrs []crypto.Address
	for i := range 25 {
		addrs = append(addrs, addrOf(idN(uint64(i+1)), publicIP(uint32(i)<<16), 1))
	}
	addrs[1] = addrs[0] // a duplicate inside the bound
	from := addrOf(idN(100), "15.1.1.1", 1)
	if err := b.MarkPexRequested(from.ID); err != nil {
		t.Fatal(err)
	}
	res, err := b.IngestPex(from, pexResp(addrs...))
	if !errors.Is(err, ErrPexTooMany) {
		t.Fatalf("err %v", err)
	}
	if res.Received != 25 || res.Excess != 15 || res.Added != 9 || res.Ignored[IgnoreDuplicate] != 1 {
		t.Fatalf("%+v", res)
	}
	if b.Len() != 9 {
		t.Fatalf("book has %d", b.Len())
	}
}

func TestMarkPexRequestedLimit(t *testing.T) {
	clk := newClock()
	b := newTestBook(t, Config{}, testDeps(clk))
	for i := range maxPexOutstanding {
		if err := b.MarkPexRequested(idN(uint64(i + 1))); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.MarkPexRequested(idN(1 << 40)); !errors.Is(err, ErrPexBusy) {
		t.Fatalf("over the limit: %v", err)
	}
	if err := b.MarkPexRequested(idN(1)); err != nil { // renewing is fine
		t.Fatal(err)
	}
	clk.Advance(DefaultPexResponseTimeout + time.Second)
	if err := b.MarkPexRequested(idN(1 << 40)); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	checkInvariants(t, b)
}

func TestIgnoreReasonString(t *testing.T) {
	if IgnoreBucketFull.String() != "bucket full" || IgnoreReason(200).String() != "reason(200)" {
		t.Fatal(IgnoreBucketFull.String(), IgnoreReason(200).String())
	}
	if SourcePEX.String() != "pex" || SourceKind(9).String() != "unknown" {
		t.Fatal("SourceKind.String")
	}
}

// TestParsePexAddrFastPath checks parsePexAddr's IPv4 shortcut against the
// full parse of "ID@host:port" it skips: the same address, or the same
// refusal, for IPv4 hosts and for everything the shortcut must leave to
// the full parse.
func TestParsePexAddrFastPath(t *testing.T) {
	id := idN(7)
	full := func(host string, port uint32) (crypto.Address, bool) {
		a, err := crypto.ParseAddress(id.String() + "@" + net.JoinHostPort(host, strconv.Itoa(int(port))))
		return a, err == nil
	}
	hosts := []string{"11.1.1.1", "1.2.3.4", "255.255.255.255", "0.0.0.0", "127.0.0.1", "10.0.0.1",
		"01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1", " 1.2.3.4", "1.2.3.4 ", "::ffff:1.2.3.4", "[::ffff:1.2.3.4]",
		"2a01:4f8::1", "[2a01:4f8::1]", "fe80::1%eth0", "node.example.org", "Node.Example.ORG.", "1.2.3.4%x", "x"}
	for _, host := range hosts {
		for _, port := range []uint32{1, 26656, 65535} {
			got, reason := parsePexAddr(&pb.PeerAddress{Id: id[:], Host: host, Port: port})
			want, ok := full(host, port)
			if ok != (reason == ignoreNone) || got != want {
				t.Errorf("%q:%d: got %v (%v), the full parse gives %v (ok %v)", host, port, got, reason, want, ok)
			}
		}
	}
}
