package peerbook

import (
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/proto/pb"
	"google.golang.org/protobuf/proto"
)

func fuzzConfig() Config {
	var cfg Config
	cfg.NewBuckets, cfg.TriedBuckets, cfg.BucketSize = 8, 4, 4 // small: collisions and caps are reached
	cfg.MaxEntries = 40
	cfg.MaxPexAddrs = 16
	return cfg
}

// FuzzLoad feeds arbitrary bytes to the book file loader. It must never
// panic, must keep every bound, and whatever it loads must save and load
// again unchanged in size.
func FuzzLoad(f *testing.F) {
	good := goodFile(f)
	secret := `"secret":"` + strings.Repeat("5a", 32) + `"`
	for _, s := range []string{
		string(good),
		string(good[:len(good)/2]),
		"",
		"{}",
		"[]",
		"null",
		`{"version":2,` + secret + `,"entries":[]}`,
		`{"version":1,` + secret + `,"entries":[],"bans":[]}`,
		`{"version":1,` + secret + `,"entries":[{"addr":"` + idN(1).String() + `@11.1.1.1:1","tried":true,"failures":3,"protected":true}]}`,
		`{"version":1,` + secret + `,"entries":[{},{},{}],"bans":[{"ip":"::ffff:1.2.3.4","until":"2999-01-01T00:00:00Z"}]}`,
		`{"version":1,` + secret + `,"entries":[],"bans":[{"ip":"10.1.0.0/16","until":"2999-01-01T00:00:00Z"},{"ip":"2001:db8::/32","until":"2999-01-01T00:00:00Z"},{"ip":"1.0.0.0/1","until":"2999-01-01T00:00:00Z"},{"ip":"::ffff:1.2.3.0/120","until":"2999-01-01T00:00:00Z"}]}`,
		`{"version":1,` + secret + `,"entries":[{"addr":"` + idN(1).String() + `@[2a01::1]:65535","meta":{"topics":"AAEC"}}]}`,
		`{"version":1,` + secret + `,"entries":[{"addr":"` + idN(1).String() + `@11.1.1.1:1","source":"inbound","unverified":true},{"addr":"` + idN(2).String() + `@[2a01::2]:2","source":"inbound","unverified":false,"tried":true}]}`,
		`{"version":1,` + secret + `,"entries":[{"addr":"` + idN(1).String() + `@11.1.1.1:1","source":"manual","unverified":true},{"addr":"` + idN(2).String() + `@12.1.1.1:1","source":"inbound"},{"addr":"` + idN(3).String() + `@13.1.1.1:1","unverified":"yes"}]}`,
		`{"version":1,` + secret + `,"x":{"y":[[[[]]]]},"entries":[]}`,
		`{"version":1,` + secret + `,"entries":[{"addr":"` + idN(2).String() + `@192.168.1.2:1","source":"local","tried":true},{"addr":"` + idN(3).String() + `@192.168.1.3:1","source":"local"},{"addr":"` + idN(4).String() + `@192.168.1.4:1","source":"local","protected":true},{"addr":"` + idN(5).String() + `@node.example.org:1","source":"local"}]}`,
		`{"version":1,` + secret + `,"entries":[]} trailing`,
		`{"version":1,` + secret + `,"entries":[{"addr":"` + idN(1).String() + `@11.1.1.1:1","slot":5},{"addr":"` + idN(2).String() + `@11.1.1.1:2","slot":5},{"addr":"` + idN(3).String() + `@11.1.1.1:3","slot":-1},{"addr":"` + idN(4).String() + `@11.1.1.1:4","slot":99999999999},{"addr":"` + idN(5).String() + `@11.1.1.1:5","slot":0,"tried":true},{"addr":"` + idN(6).String() + `@11.1.1.1:6","slot":"x"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		clk := newClock()
		b, err := newBook(fuzzConfig(), testDeps(clk))
		if err != nil {
			t.Fatal(err)
		}
		d, err := decodeFile(data, b.cfg.MaxEntries+MaxProtected)
		if err != nil {
			return
		}
		b.secret = d.secret
		entries, bans, _ := b.build(d, clk.Now())
		checkInvariants(t, b)
		if entries != b.Len() || entries > b.cfg.MaxEntries+MaxProtected || bans != len(b.Bans()) {
			t.Fatalf("loaded %d entries, %d bans; book has %d, %d", entries, bans, b.Len(), len(b.Bans()))
		}
		out, _, err := b.marshal(clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := newBook(fuzzConfig(), testDeps(clk))
		d2, err := decodeFile(out, b2.cfg.MaxEntries+MaxProtected)
		if err != nil {
			t.Fatalf("saved file does not load: %v\n%s", err, out)
		}
		b2.secret = d2.secret
		if n, _, dropped := b2.build(d2, clk.Now()); n != entries || dropped != 0 {
			t.Fatalf("reloaded %d entries (%d dropped), want %d", n, dropped, entries)
		}
		for _, e := range b.Entries() {
			if e2, ok := b2.Get(e.Addr.ID); !ok || e2.Unverified != e.Unverified {
				t.Fatalf("%s: unverified %v, reloaded %v (%v)", e.Addr, e.Unverified, e2.Unverified, ok)
			}
		}
		for id, e := range b.mu.byID {
			if e2 := b2.mu.byID[id]; e2.table != e.table || e2.pos != e.pos {
				t.Fatalf("%s moved from %d/%d to %d/%d at reload", id.Short(), e.table, e.pos, e2.table, e2.pos)
			}
		}
	})
}

// FuzzPexIngest feeds arbitrary PexResponse bytes to IngestPex. It must
// never panic, must account for every address, and must keep every bound.
func FuzzPexIngest(f *testing.F) {
	id := func(n uint64) []byte { x := idN(n); return x[:] }
	seeds := []*pb.PexResponse{
		{},
		{Addrs: []*pb.PeerAddress{{Id: id(1), Host: "11.1.1.1", Port: 26656}}},
		{Addrs: []*pb.PeerAddress{{Id: id(2), Host: "2a01:4f8::1", Port: 1}, {Id: id(3), Host: "node.example.org", Port: 65535}}},
		{Addrs: []*pb.PeerAddress{{Id: id(4)[:5], Host: "11.1.1.1", Port: 1}, {Id: id(5), Host: "127.0.0.1", Port: 70000}, {Id: id(1), Host: "10.0.0.1", Port: 5}}},
		{Addrs: []*pb.PeerAddress{{Id: id(6), Host: "[::1]", Port: 1}, {Id: id(6), Host: "11.2.2.2", Port: 2}, {Id: id(7), Host: "fe80::1%eth0", Port: 3}}},
	}
	var many pb.PexResponse
	for i := range 40 {
		many.Addrs = append(many.Addrs, &pb.PeerAddress{Id: id(uint64(100 + i)), Host: publicIP(uint32(i) << 16), Port: 26656})
	}
	seeds = append(seeds, &many)
	for _, s := range seeds {
		data, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false)
		f.Add(data, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, allowPrivate bool) {
		var resp pb.PexResponse
		if proto.Unmarshal(data, &resp) != nil {
			return
		}
		clk := newClock()
		cfg := fuzzConfig()
		cfg.AllowPrivate, cfg.AllowLoopback, cfg.AllowNetworkNames = allowPrivate, allowPrivate, allowPrivate
		deps := testDeps(clk)
		b, err := New(cfg, deps)
		if err != nil {
			t.Fatal(err)
		}
		_ = b.Add(addrOf(idN(1), "11.1.1.1", 26656), Source{Kind: SourceManual})
		_ = b.MarkSuccess(addrOf(idN(1), "11.1.1.1", 26656))
		_ = b.Ban(idN(5), time.Hour, "fuzz")
		from := addrOf(idN(1000), "15.1.1.1", 1)
		for round := range 2 {
			if err := b.MarkPexRequested(from.ID); err != nil {
				t.Fatal(err)
			}
			res, _ := b.IngestPex(from, &resp)
			ignored := 0
			for _, n := range res.Ignored {
				ignored += n
			}
			if res.Received != len(resp.Addrs) || res.Added+ignored+res.Excess != res.Received || res.Excess > 0 != (len(resp.Addrs) > cfg.MaxPexAddrs) {
				t.Fatalf("round %d: result %+v does not account for %d addresses", round, res, len(resp.Addrs))
			}
			checkInvariants(t, b)
		}
		if e, _ := b.Get(idN(1)); e.Addr.Host != "11.1.1.1" {
			t.Fatalf("known address replaced by %v", e.Addr)
		}
		for _, e := range b.Entries() {
			ip, err := validAddress(e.Addr)
			if err != nil {
				t.Fatalf("stored invalid address %v: %v", e.Addr, err)
			}
			if e.Source.Kind == SourcePEX && b.checkHost(e.Addr.Host, ip) != ignoreNone {
				t.Fatalf("stored unroutable %v", e.Addr)
			}
			if e.Addr.ID == deps.SelfID || e.Addr.ID == idN(5) {
				t.Fatalf("stored self or banned %v", e.Addr)
			}
		}
		if n := len(b.AnswerPex(&pb.PexRequest{}, from.ID).Addrs); n > cfg.MaxPexAddrs {
			t.Fatalf("answer of %d", n)
		}
	})
}
