package p2p

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
)

// Request/response against peers that misbehave or go away: abuse of the
// overload allowance, broken and reused answers, the reputation answers
// earn, a peer that disconnects mid-request.

// waitRaw waits until n has admitted p and can send to it: the peer set
// admits a peer (Peer, connectedTo) a moment before the node registers
// its connection for sending.
func waitRaw(t *testing.T, n *Node, p *rawPeer) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "raw peer registered", func() bool {
		_, err := n.peerConn(p.id.ID())
		return err == nil
	})
}

// joinRaw connects a raw peer of identity seed to n and waits until n
// can send to it (dialRaw, then waitRaw).
func joinRaw(t *testing.T, n *Node, seed int) *rawPeer {
	t.Helper()
	p, err := dialRaw(t, n, testIdentity(t, seed), "")
	if err != nil {
		t.Fatal(err)
	}
	waitRaw(t, n, p)
	return p
}

// rawRR returns the next request/response message the node sent to p,
// decoded.
func rawRR(t *testing.T, p *rawPeer) rrMsg {
	t.Helper()
	for {
		select {
		case m := <-p.inbox:
			if m.Topic != topicRPC || len(m.Data) == 0 || !isRRKind(m.Data[0]) {
				continue
			}
			w, err := parseRR(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			return w
		case <-time.After(10 * time.Second):
			t.Fatal("no request/response message from the node")
		}
	}
}

// TestRequestOverloadAbuse: a peer that keeps sending requests beyond the
// concurrency limit is refused "overloaded" each time, and past the
// allowance of refusals each one costs it a rate excess.
func TestRequestOverloadAbuse(t *testing.T) {
	a := startNode(t, rrConfig(t, 1, RequestConfig{MaxConcurrent: 2}))
	release := make(chan struct{})
	defer close(release)
	if err := a.HandleRequests(topicRPC, func(ctx context.Context, _ crypto.ID, _ []byte) ([]byte, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	p, err := dialRaw(t, a, testIdentity(t, 50), "")
	if err != nil {
		t.Fatal(err)
	}
	waitRaw(t, a, p)
	const sent = 2 + overloadAllowBurst + 10
	for id := uint64(1); id <= sent; id++ {
		if err := p.mc.Send(context.Background(), topicRPC, encodeRequest(id, 0, nil)); err != nil {
			t.Fatal(err)
		}
	}
	for range sent - 2 {
		if w := rawRR(t, p); w.kind != kindError || w.code != RequestOverloaded {
			t.Fatalf("answer %+v, want overloaded", w)
		}
	}
	if st := a.RequestStats(); st.Overloaded != sent-2 {
		t.Fatalf("overloaded %d, want %d", st.Overloaded, sent-2)
	}
	// The bucket refills at 1/s: at least the last few of 10 are excess
	// unless the test took seconds, which the bound allows for.
	excess := a.Stats().RateExcess
	if excess < 3 {
		t.Fatalf("%d rate excesses for %d refusals beyond the allowance of %d", excess, sent-2, overloadAllowBurst)
	}
	if score, _ := a.set.Score(p.id.ID()); score > 0.99*float64(excess)*-5 { // decay nudges it toward 0
		t.Fatalf("abuser's score %v after %d rate excesses", score, excess)
	}
}

// TestRequestBrokenAnswers: a peer that answers late is only counted; one
// that answers a request never issued, or sends a response over the
// topic's maximum, broke the protocol: the connection is closed with a
// goaway that says why and the peer pays for a violation.
func TestRequestBrokenAnswers(t *testing.T) {
	a := startNode(t, rrConfig(t, 1, RequestConfig{MaxResponseSize: 1000, Timeout: time.Minute}))
	connect := func(i int) *rawPeer {
		p, err := dialRaw(t, a, testIdentity(t, i), "")
		if err != nil {
			t.Fatal(err)
		}
		waitRaw(t, a, p)
		return p
	}
	ctx := context.Background()

	t.Run("late answer counted, unknown ID a violation", func(t *testing.T) {
		p := connect(50)
		tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if _, err := a.Request(tctx, p.id.ID(), topicRPC, []byte("q")); !errors.Is(err, ErrRequestTimeout) {
			t.Fatalf("Request to a silent peer = %v, want a timeout", err)
		}
		req := rawRR(t, p)
		if req.kind != kindRequest || string(req.body) != "q" || req.timeout <= 0 || req.timeout > 200*time.Millisecond {
			t.Fatalf("request on the wire %+v", req)
		}
		if c := rawRR(t, p); c.kind != kindCancel || c.id != req.id {
			t.Fatalf("after the timeout the node sent %+v, want cancel of %d", c, req.id)
		}
		before, _ := a.set.Score(p.id.ID())
		if err := p.mc.Send(ctx, topicRPC, encodeResponse(req.id, []byte("late"))); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, "late answer counted", func() bool { return a.RequestStats().Late == 1 })
		// Decay may move the score toward 0 meanwhile; a penalty is -5 or worse.
		if after, _ := a.set.Score(p.id.ID()); after < before || a.RequestStats().Violations != 0 {
			t.Fatalf("a late answer moved the score %v → %v or was a violation", before, after)
		}
		if err := p.mc.Send(ctx, topicRPC, encodeResponse(req.id+1000, []byte("?"))); err != nil {
			t.Fatal(err)
		}
		ge := goAwayOf(t, p.mc)
		if ge.Code != mux.GoAwayProtocolViolation || !strings.Contains(ge.Text, "never issued") {
			t.Fatalf("goaway %v, want a protocol violation naming the unknown request", ge)
		}
		if after, _ := a.set.Score(p.id.ID()); after > before-39 { // -40, less a little decay
			t.Fatalf("score %v → %v after a violation", before, after)
		}
		if st := a.RequestStats(); st.Violations != 1 {
			t.Fatalf("stats %+v, want one violation", st)
		}
	})

	t.Run("response over the maximum", func(t *testing.T) {
		p := connect(51)
		errc := make(chan error, 1)
		go func() {
			_, err := a.Request(ctx, p.id.ID(), topicRPC, []byte("q"))
			errc <- err
		}()
		req := rawRR(t, p)
		if err := p.mc.Send(ctx, topicRPC, encodeResponse(req.id, make([]byte, 1001))); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, ErrRequestTooLarge) {
			t.Fatalf("Request = %v, want too large", err)
		}
		ge := goAwayOf(t, p.mc)
		if ge.Code != mux.GoAwayProtocolViolation || !strings.Contains(ge.Text, "over the maximum") {
			t.Fatalf("goaway %v, want a protocol violation naming the size", ge)
		}
	})
}

// TestRequestPeerGone: a request waiting on a peer that disconnects ends
// at once with ErrUnknownPeer, not at its deadline.
func TestRequestPeerGone(t *testing.T) {
	a := startNode(t, rrConfig(t, 1, RequestConfig{Timeout: time.Minute}))
	p, err := dialRaw(t, a, testIdentity(t, 50), "")
	if err != nil {
		t.Fatal(err)
	}
	waitRaw(t, a, p)
	errc := make(chan error, 1)
	go func() {
		_, err := a.Request(context.Background(), p.id.ID(), topicRPC, []byte("q"))
		errc <- err
	}()
	rawRR(t, p)
	p.mc.Abort(mux.GoAwayShutdown, "bye")
	select {
	case err := <-errc:
		if !errors.Is(err, ErrUnknownPeer) {
			t.Fatalf("Request = %v, want ErrUnknownPeer", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the request outlived its connection")
	}
	testutil.Eventually(t, 10*time.Second, "the connection's request state dropped", func() bool {
		a.rr.mu.Lock()
		defer a.rr.mu.Unlock()
		return len(a.rr.conns) == 0
	})
}

// TestRequestReputation: answers in time raise the peer's score by at most
// DeltaRequestAnswered each, the faster the more.
func TestRequestReputation(t *testing.T) {
	for _, c := range []struct {
		rtt, wait time.Duration
		want      float64
	}{
		{0, time.Second, DeltaRequestAnswered},
		{500 * time.Millisecond, time.Second, DeltaRequestAnswered / 2},
		{time.Second, time.Second, 0},
		{2 * time.Second, time.Second, 0},
		{time.Millisecond, 0, 0},
	} {
		if got := answerDelta(c.rtt, c.wait); got < c.want-1e-12 || got > c.want+1e-12 {
			t.Errorf("answerDelta(%v, %v) = %v, want %v", c.rtt, c.wait, got, c.want)
		}
	}
	a := startNode(t, rrConfig(t, 1, RequestConfig{}))
	b := startNode(t, rrConfig(t, 2, RequestConfig{}))
	if err := b.HandleRequests(topicRPC, func(_ context.Context, _ crypto.ID, req []byte) ([]byte, error) { return req, nil }); err != nil {
		t.Fatal(err)
	}
	dial(t, a, b)
	const k = 100
	for range k {
		if _, err := a.Request(context.Background(), b.ID(), topicRPC, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	// 100 answers well inside the 10 s default timeout earn almost 1,
	// reported in batches of rewardBatch.
	score, _ := a.set.Score(b.ID())
	if score < k*DeltaRequestAnswered/2 || score > k*DeltaRequestAnswered+1e-9 {
		t.Fatalf("score %v after %d prompt answers, want about %v", score, k, k*DeltaRequestAnswered)
	}
}

// TestRequestReusedID: a peer that sends a second request with the ID of
// one still being handled broke the protocol.
func TestRequestReusedID(t *testing.T) {
	a := startNode(t, rrConfig(t, 1, RequestConfig{}))
	release := make(chan struct{})
	defer close(release)
	if err := a.HandleRequests(topicRPC, func(ctx context.Context, _ crypto.ID, _ []byte) ([]byte, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	p, err := dialRaw(t, a, testIdentity(t, 50), "")
	if err != nil {
		t.Fatal(err)
	}
	waitRaw(t, a, p)
	for range 2 {
		if err := p.mc.Send(context.Background(), topicRPC, encodeRequest(5, 0, []byte("q"))); err != nil {
			t.Fatal(err)
		}
	}
	ge := goAwayOf(t, p.mc)
	if ge.Code != mux.GoAwayProtocolViolation || !strings.Contains(ge.Text, "reused") {
		t.Fatalf("goaway %v, want a protocol violation naming the reused ID", ge)
	}
}
