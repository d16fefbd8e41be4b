package peerbook_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/proto/pb"
)

// A node opens its book at start, saves it in the background, and closes it
// at stop.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "peerbook-example")
	defer os.RemoveAll(dir)

	book, report, err := peerbook.Open(filepath.Join(dir, "peerbook.json"), peerbook.Config{}, peerbook.Deps{})
	if err != nil {
		log.Fatal(err) // an invalid Config or an unreadable file; corruption is only reported
	}
	for _, p := range report.Problems {
		log.Print(p) // moved aside; the book started from the backup or empty
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- book.Run(ctx) }()

	seed, _ := crypto.ParseAddress("00112233445566778899aabbccddeeff00112233@198.100.1.7:26656")
	if err := book.Add(seed, peerbook.Source{Kind: peerbook.SourceBootstrap}); err != nil {
		log.Print(err)
	}

	cancel()
	<-done
	if err := book.Close(); err != nil {
		log.Print(err)
	}
	fmt.Println(report.Origin, book.Len())
	// Output: empty 1
}

// The dialer picks candidates, skipping connected peers, and reports the
// outcome of each dial.
func ExampleBook_Pick() {
	book, _ := peerbook.New(peerbook.Config{}, peerbook.Deps{})
	a, _ := crypto.ParseAddress("00112233445566778899aabbccddeeff00112233@198.100.1.7:26656")
	_ = book.Add(a, peerbook.Source{Kind: peerbook.SourceManual})

	connected := map[crypto.ID]bool{}
	for _, addr := range book.Pick(8, func(id crypto.ID, _ netip.Addr) bool { return connected[id] }) {
		_ = book.MarkAttempt(addr.ID)
		// ... dial; on success:
		_ = book.MarkSuccess(addr)
		// on failure: evicted, _ := book.MarkFailure(addr.ID)
	}
	e, _ := book.Get(a.ID)
	fmt.Println(e.Tried, e.Failures)
	// Output: true 0
}

// Peer exchange: ask, then ingest only what was asked for, and turn the
// result into reputation.
func ExampleBook_IngestPex() {
	book, _ := peerbook.New(peerbook.Config{}, peerbook.Deps{})
	peer, _ := crypto.ParseAddress("00112233445566778899aabbccddeeff00112233@198.100.1.7:26656")

	_ = book.MarkPexRequested(peer.ID) // then send pb.PexRequest{Max: 32}

	resp := &pb.PexResponse{Addrs: []*pb.PeerAddress{
		{Id: make([]byte, 20), Host: "198.100.2.8", Port: 26656}, // zero ID: invalid
		{Id: []byte("abcdefghijklmnopqrst"), Host: "198.100.2.9", Port: 26656},
	}}
	res, err := book.IngestPex(peer, resp)
	if err != nil {
		fmt.Println("punish:", err) // unsolicited or oversized
	}
	fmt.Println(res.Added, res.Ignored[peerbook.IgnoreInvalid])

	_, err = book.IngestPex(peer, resp) // a second, unrequested response
	fmt.Println(err)
	// Output:
	// 1 1
	// peerbook: unsolicited PEX response
}
