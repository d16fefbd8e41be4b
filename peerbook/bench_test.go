package peerbook

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

var benchSizes = []int{10_000, 100_000}

// benchConfig has room for 100,000 entries (327,680 slots), so both sizes
// use the same tables and differ only in how full they are.
func benchConfig() Config {
	return Config{NewBuckets: 4096, TriedBuckets: 1024, BucketSize: 64}
}

// benchDeps seeds the book's randomness, so runs compare.
func benchDeps() Deps { return Deps{Rand: seeded(3)} }

// benchBook returns a book of n entries from random groups, a tenth of them
// tried.
func benchBook(b *testing.B, n int) *Book {
	b.Helper()
	bk, err := New(benchConfig(), benchDeps())
	if err != nil {
		b.Fatal(err)
	}
	fillRandom(b, bk, n)
	return bk
}

func fillRandom(b testing.TB, bk *Book, n int) {
	r := rand.New(rand.NewPCG(uint64(n), 1))
	for i := uint64(1); bk.Len() < n; i++ {
		a := addrOf(idN(i), randomPublicIP(r), 26656)
		if bk.Add(a, Source{Kind: SourceInbound}) == nil && i%10 == 0 {
			_ = bk.MarkSuccess(a)
		}
	}
}

// BenchmarkAdd adds a new peer and removes it again, so the book stays at
// its size; the figure is one Add plus one Remove.
func BenchmarkAdd(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			bk := benchBook(b, n)
			r := rand.New(rand.NewPCG(9, 9))
			fresh := make([]crypto.Address, 4096)
			for i := range fresh {
				fresh[i] = addrOf(idN(1<<40+uint64(i)), randomPublicIP(r), 26656)
			}
			src := Source{Kind: SourceInbound}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				a := fresh[i%len(fresh)]
				if bk.Add(a, src) == nil {
					bk.Remove(a.ID)
				}
			}
		})
	}
}

// BenchmarkPick picks one address to dial.
func BenchmarkPick(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			bk := benchBook(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if len(bk.Pick(1, nil)) != 1 {
					b.Fatal("no pick")
				}
			}
		})
	}
}

// BenchmarkAnswerPex builds one PEX answer of 32 addresses.
func BenchmarkAnswerPex(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			bk := benchBook(b, n)
			req := &pb.PexRequest{}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if len(bk.AnswerPex(req, crypto.ID{}).Addrs) != DefaultMaxPexAddrs {
					b.Fatal("short answer")
				}
			}
		})
	}
}

// savedBook saves a book of n entries to a temporary file and returns the
// file's path and the book, still open; the benchmark's bytes are the
// file's size.
func savedBook(b *testing.B, n int) (string, *Book) {
	path := filepath.Join(b.TempDir(), "peerbook.json")
	bk, _, err := Open(path, benchConfig(), benchDeps())
	if err != nil {
		b.Fatal(err)
	}
	fillRandom(b, bk, n)
	if err := bk.Save(); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(path)
	b.SetBytes(fi.Size())
	return path, bk
}

// BenchmarkSave saves a book of 10,000 entries to disk (write, fsync,
// backup link, rename, directory fsync).
func BenchmarkSave(b *testing.B) {
	_, bk := savedBook(b, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := bk.Save(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad opens a saved book of 10,000 entries.
func BenchmarkLoad(b *testing.B) {
	path, bk := savedBook(b, 10_000)
	if err := bk.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		bk, rep, err := Open(path, benchConfig(), benchDeps())
		if err != nil || rep.Entries != 10_000 {
			b.Fatal(err, rep)
		}
		_ = bk.Close()
	}
}

// BenchmarkIngestPex ingests one PEX answer of 32 IPv4 addresses the book
// already holds (a settled network's usual answer): the parse of each wire
// address and the book's checks.
func BenchmarkIngestPex(b *testing.B) {
	bk := benchBook(b, 10_000)
	es := bk.Entries()
	resp := &pb.PexResponse{}
	for _, e := range es[:DefaultMaxPexAddrs] {
		resp.Addrs = append(resp.Addrs, &pb.PeerAddress{Id: append([]byte(nil), e.Addr.ID[:]...), Host: e.Addr.Host, Port: uint32(e.Addr.Port)})
	}
	from := es[len(es)-1].Addr
	b.ReportAllocs()
	for b.Loop() {
		if err := bk.MarkPexRequested(from.ID); err != nil {
			b.Fatal(err)
		}
		if res, err := bk.IngestPex(from, resp); err != nil || res.Received != DefaultMaxPexAddrs {
			b.Fatal(res, err)
		}
	}
}
