package p2p

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/internal/clock"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/peerset"
	"github.com/peerwire/peerwire/proto/pb"
)

// TestPexMisbehaviour: a PEX answer nobody asked for, a request faster than
// the answer rate and an undecodable PEX message each cost the peer its
// score; a request in time is answered; nothing unsolicited enters the book.
func TestPexMisbehaviour(t *testing.T) {
	clk := clock.NewFake()
	cfg := quietConfig(t, 1300)
	onFakeClock(&cfg, clk)
	hub := startNode(t, cfg)
	known := startNode(t, quietConfig(t, 1301))
	dial(t, hub, known) // the hub reaches known: a verified address to answer with
	p, err := dialRaw(t, hub, testIdentity(t, 1302), "")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "raw peer admitted", func() bool { return connectedTo(hub, p.id.ID()) })
	send := func(m *pb.PexMessage) {
		t.Helper()
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.mc.Send(context.Background(), PexTopic, b); err != nil {
			t.Fatal(err)
		}
	}
	score := func() float64 {
		s, _ := hub.Score(p.id.ID())
		return s
	}

	stranger := testIdentity(t, 1303).ID()
	send(&pb.PexMessage{Msg: &pb.PexMessage_Response{Response: &pb.PexResponse{
		Addrs: []*pb.PeerAddress{{Id: stranger[:], Host: "127.0.0.1", Port: 9}}}}})
	testutil.Eventually(t, 5*time.Second, "unsolicited answer punished", func() bool { return score() <= peerset.DeltaBadPEX })
	if _, ok := hub.book.Get(stranger); ok {
		t.Fatal("unsolicited address entered the book")
	}

	request := &pb.PexMessage{Msg: &pb.PexMessage_Request{Request: &pb.PexRequest{Max: 32}}}
	for range pexAnswerBurst + 1 { // same instant on the hub's clock: the last is too soon
		send(request)
	}
	for i := range pexAnswerBurst { // requests bunched in transit are still answered
		answer := waitPex(t, p)
		if r := answer.GetResponse(); r == nil || len(r.GetAddrs()) == 0 {
			t.Fatalf("request %d of a burst not answered with addresses: %v", i, answer)
		}
	}
	testutil.Eventually(t, 5*time.Second, "fast request punished", func() bool { return hub.Stats().RateExcess == 1 })
	want := peerset.DeltaBadPEX + peerset.DeltaRateExceeded
	if s := score(); s > want+1 || s < want-1 { // decay is negligible here
		t.Fatalf("score %v after a bad answer and a fast request, want about %v", s, want)
	}

	if err := p.mc.Send(context.Background(), PexTopic, []byte{0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "undecodable PEX message punished", func() bool { return hub.Stats().Malformed == 1 })
	clk.Advance(time.Minute)
	send(request) // in time again: answered
	if answer := waitPex(t, p); answer.GetResponse() == nil {
		t.Fatalf("second request in time not answered: %v", answer)
	}
}

// waitPex returns the next PEX message the raw peer receives.
func waitPex(t *testing.T, p *rawPeer) *pb.PexMessage {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m := <-p.inbox:
			if m.Topic != PexTopic {
				continue
			}
			var msg pb.PexMessage
			if err := proto.Unmarshal(m.Data, &msg); err != nil {
				t.Fatal(err)
			}
			return &msg
		case <-timeout:
			t.Fatal("no PEX message")
		}
	}
}

// TestPexRequestsOverlap: a second PEX request to a peer before its first
// answer (the node asks on admission and again in its PEX round) makes
// both answers solicited: the honest peer is not charged for the second.
func TestPexRequestsOverlap(t *testing.T) {
	a := startNode(t, quietConfig(t, 1790))
	b := startNode(t, quietConfig(t, 1791))
	dial(t, a, b)
	pc, err := a.peerConn(b.ID())
	if err != nil {
		t.Fatal(err)
	}
	answered := func(asked int) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, "every request answered and taken", func() bool {
			return b.Stats().PexAnswers >= uint64(asked) && a.book.Stats().PexOutstanding == 0
		})
	}
	answered(1) // the request on admission
	before, _ := a.Score(b.ID())
	a.requestPex(pc)
	a.requestPex(pc)
	answered(3)
	// One more, answered after the two: once it is taken, so are they.
	a.requestPex(pc)
	answered(4)
	if after, _ := a.Score(b.ID()); after < before {
		t.Fatalf("the peer's score fell from %v to %v for answering both requests", before, after)
	}
	if got := a.Stats().PexRequests; got != 4 {
		t.Fatalf("%d PEX requests sent, want 4", got)
	}
}
