package p2p

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
)

// Request/response topics of the tests.
const (
	topicRPC  = 7
	topicRPC2 = 8
)

// rrConfig is quietConfig with the request/response topic topicRPC
// (64 KiB messages) configured by rc.
func rrConfig(t testing.TB, i int, rc RequestConfig) Config {
	cfg := quietConfig(t, i)
	cfg.Topics = append(testTopics(),
		TopicConfig{TopicConfig: mux.TopicConfig{ID: topicRPC, Name: "rpc", MaxMessageSize: 64 << 10}, Requests: &rc},
		TopicConfig{TopicConfig: mux.TopicConfig{ID: topicRPC2, Name: "rpc2", MaxMessageSize: 1 << 10}, Requests: &RequestConfig{}})
	return cfg
}

// rrAnswer is what the servers of TestRequestMany answer: the server's
// index, then a length chosen by the request's first 4 bytes filled with
// the request's SHA-256 repeated. A caller checks it by computing it again.
func rrAnswer(server byte, req []byte) []byte {
	n := 0
	if len(req) >= 4 {
		n = int(binary.LittleEndian.Uint32(req) % (8 << 10))
	}
	h := sha256.Sum256(req)
	out := make([]byte, 1, 1+n)
	out[0] = server
	for len(out) < 1+n {
		out = append(out, h[:min(len(h), 1+n-len(out))]...)
	}
	return out
}

// TestRequestMany: 10,000 requests of random sizes from one node to four
// peers over TCP, many in flight at once, each answer checked.
func TestRequestMany(t *testing.T) {
	a := startNode(t, rrConfig(t, 1, RequestConfig{}))
	var servers []*Node
	for i := range 4 {
		s := startNode(t, rrConfig(t, 10+i, RequestConfig{}))
		idx := byte(i)
		if err := s.HandleRequests(topicRPC, func(_ context.Context, from crypto.ID, req []byte) ([]byte, error) {
			if from != a.ID() {
				return nil, fmt.Errorf("request from %s", from.Short())
			}
			return rrAnswer(idx, req), nil
		}); err != nil {
			t.Fatal(err)
		}
		dial(t, a, s)
		servers = append(servers, s)
	}
	const total, workers = 10_000, 32
	var next atomic.Int64
	var bytesIn atomic.Int64
	errc := make(chan error, workers)
	for w := range workers {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for next.Add(1) <= total {
				req := make([]byte, rng.IntN(4<<10))
				for i := range req {
					req[i] = byte(rng.Uint32())
				}
				si := rng.IntN(len(servers))
				resp, err := a.Request(context.Background(), servers[si].ID(), topicRPC, req)
				if err != nil {
					errc <- err
					return
				}
				if !bytes.Equal(resp, rrAnswer(byte(si), req)) {
					errc <- fmt.Errorf("wrong answer from server %d to a %d-byte request: %d bytes", si, len(req), len(resp))
					return
				}
				bytesIn.Add(int64(len(resp)))
			}
			errc <- nil
		}()
	}
	for range workers {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	st := a.RequestStats()
	if st.Sent != total || st.Answered != total || st.Failed+st.TimedOut+st.Late+st.Violations != 0 {
		t.Fatalf("caller stats %+v, want %d sent and answered and nothing else", st, total)
	}
	var served uint64
	for i, s := range servers {
		ss := s.RequestStats()
		if ss.Served == 0 || ss.Overloaded != 0 || ss.Refused != 0 {
			t.Errorf("server %d stats %+v: want some served, none refused", i, ss)
		}
		served += ss.Served
	}
	if served != total {
		t.Fatalf("servers served %d requests, want %d", served, total)
	}
	t.Logf("%d requests, %d response bytes", total, bytesIn.Load())
}

// TestRequestTimeout: a peer that never answers costs the caller its own
// deadline and no more (the topic's timeout is a minute), the peer's
// handler sees its context end, and the peer pays DeltaRequestTimeout.
func TestRequestTimeout(t *testing.T) {
	rc := RequestConfig{Timeout: time.Minute}
	a := startNode(t, rrConfig(t, 1, rc))
	b := startNode(t, rrConfig(t, 2, rc))
	ended := make(chan error, 1)
	proceed := make(chan struct{}) // the answer waits until the caller has given up
	if err := b.HandleRequests(topicRPC, func(ctx context.Context, _ crypto.ID, _ []byte) ([]byte, error) {
		<-ctx.Done()
		ended <- ctx.Err()
		<-proceed
		return []byte("too late"), nil
	}); err != nil {
		t.Fatal(err)
	}
	dial(t, a, b)
	const wait = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	start := time.Now()
	_, err := a.Request(ctx, b.ID(), topicRPC, []byte("block 7?"))
	took := time.Since(start)
	close(proceed)
	var re *RequestError
	if !errors.As(err, &re) || re.Code != RequestTimeout || re.Remote || re.Peer != b.ID() || re.Topic != topicRPC {
		t.Fatalf("Request = %v, want a local timeout RequestError", err)
	}
	if !errors.Is(err, ErrRequestTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v does not match ErrRequestTimeout and context.DeadlineExceeded", err)
	}
	if took < wait || took > rc.Timeout/2 {
		t.Fatalf("the request took %v, want its deadline %v (not the topic's %v)", took, wait, rc.Timeout)
	}
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("handler context ended without an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's context did not end after the caller gave up")
	}
	// Either the cancel reached b first (no answer) or b's own deadline,
	// the stated one, did (a late answer): neither is punished further.
	testutil.Eventually(t, 10*time.Second, "b done with the request", func() bool {
		return b.RequestStats().CancelledByPeer+a.RequestStats().Late == 1
	})
	if st := a.RequestStats(); st.TimedOut != 1 || st.Violations != 0 {
		t.Fatalf("caller stats %+v, want one timeout and no violation", st)
	}
	// The maintain service decays scores toward 0 meanwhile (half-life
	// 10 min), so the score is a little above the delta.
	if score, _ := a.set.Score(b.ID()); score > 0.99*DeltaRequestTimeout || score < DeltaRequestTimeout {
		t.Fatalf("b's score %v after one timeout, want about %v", score, DeltaRequestTimeout)
	}
	if !connectedTo(a, b.ID()) {
		t.Fatal("a timeout disconnected the peer")
	}
}

// TestRequestCancel: cancelling the caller's context ends the handler's
// context on the peer long before any deadline (the topic's is a minute),
// and the caller gets ctx's error.
func TestRequestCancel(t *testing.T) {
	rc := RequestConfig{Timeout: time.Minute}
	a := startNode(t, rrConfig(t, 1, rc))
	b := startNode(t, rrConfig(t, 2, rc))
	started := make(chan struct{})
	ended := make(chan error, 1)
	if err := b.HandleRequests(topicRPC, func(ctx context.Context, _ crypto.ID, _ []byte) ([]byte, error) {
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
		return nil, ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	dial(t, a, b)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	_, err := a.Request(ctx, b.ID(), topicRPC, []byte("state chunk 3?"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Request = %v, want context.Canceled", err)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("handler context ended with %v, want context.Canceled (the cancel message)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's context did not end on the caller's cancel")
	}
	testutil.Eventually(t, 10*time.Second, "the cancelled request counted on b", func() bool {
		return b.RequestStats().CancelledByPeer == 1
	})
	if st := a.RequestStats(); st.Cancelled != 1 || st.TimedOut != 0 {
		t.Fatalf("caller stats %+v, want one cancelled", st)
	}
	if score, _ := a.set.Score(b.ID()); score != 0 {
		t.Fatalf("b's score %v after a cancelled request, want 0", score)
	}
}

// TestRequestOverload: a caller that allows itself more concurrent
// requests than the handler's node accepts gets the excess refused
// "overloaded" at once, and the accepted ones still succeed.
func TestRequestOverload(t *testing.T) {
	a := startNode(t, rrConfig(t, 1, RequestConfig{MaxConcurrent: 8}))
	b := startNode(t, rrConfig(t, 2, RequestConfig{MaxConcurrent: 2}))
	release := make(chan struct{})
	var entered atomic.Int32
	if err := b.HandleRequests(topicRPC, func(ctx context.Context, _ crypto.ID, req []byte) ([]byte, error) {
		entered.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return req, nil
	}); err != nil {
		t.Fatal(err)
	}
	dial(t, a, b)
	type result struct {
		resp []byte
		err  error
	}
	res := make(chan result, 8)
	for i := range 8 {
		go func() {
			r, err := a.Request(context.Background(), b.ID(), topicRPC, []byte{byte(i)})
			res <- result{r, err}
		}()
	}
	for range 6 {
		r := <-res
		var re *RequestError
		if !errors.As(r.err, &re) || re.Code != RequestOverloaded || !re.Remote || !errors.Is(r.err, ErrRequestOverloaded) {
			t.Fatalf("Request = %v, want the peer's overloaded error", r.err)
		}
	}
	// The two accepted requests' handlers start on their own goroutines.
	testutil.Eventually(t, 10*time.Second, "two handlers running", func() bool { return entered.Load() == 2 })
	close(release)
	for range 2 {
		if r := <-res; r.err != nil || len(r.resp) != 1 {
			t.Fatalf("accepted request = %v %v", r.resp, r.err)
		}
	}
	if st := b.RequestStats(); st.Overloaded != 6 || st.Served != 2 {
		t.Fatalf("handler stats %+v, want 6 overloaded, 2 served", st)
	}
	if b.Stats().RateExcess != 0 {
		t.Fatal("six overloaded refusals counted as abuse")
	}
}

// TestRequestPanic: a handler that panics answers "internal", and the node
// goes on serving.
func TestRequestPanic(t *testing.T) {
	a := startNode(t, rrConfig(t, 1, RequestConfig{}))
	b := startNode(t, rrConfig(t, 2, RequestConfig{}))
	if err := b.HandleRequests(topicRPC, func(_ context.Context, _ crypto.ID, req []byte) ([]byte, error) {
		if string(req) == "boom" {
			panic("handler bug")
		}
		return req, nil
	}); err != nil {
		t.Fatal(err)
	}
	dial(t, a, b)
	_, err := a.Request(context.Background(), b.ID(), topicRPC, []byte("boom"))
	var re *RequestError
	if !errors.As(err, &re) || re.Code != RequestInternal || !re.Remote || !errors.Is(err, ErrRequestInternal) {
		t.Fatalf("Request = %v, want the peer's internal error", err)
	}
	if strings.Contains(err.Error(), "handler bug") {
		t.Fatalf("the panic value reached the caller: %v", err)
	}
	resp, err := a.Request(context.Background(), b.ID(), topicRPC, []byte("ok"))
	if err != nil || string(resp) != "ok" {
		t.Fatalf("after a panic: %q %v", resp, err)
	}
	if st := b.RequestStats(); st.Panics != 1 || st.Served != 1 {
		t.Fatalf("handler stats %+v, want 1 panic, 1 served", st)
	}
	if !connectedTo(a, b.ID()) {
		t.Fatal("a handler panic disconnected the peer")
	}
}

// TestRequestErrors: every way a request fails reaches the caller as the
// right error.
func TestRequestErrors(t *testing.T) {
	a := startNode(t, rrConfig(t, 1, RequestConfig{MaxResponseSize: 100}))
	b := startNode(t, rrConfig(t, 2, RequestConfig{MaxRequestSize: 50, MaxResponseSize: 100}))
	if err := b.HandleRequests(topicRPC, func(_ context.Context, _ crypto.ID, req []byte) ([]byte, error) {
		switch string(req) {
		case "typed":
			return nil, &RequestError{Code: RequestRefused, Message: "not today"}
		case "no code":
			return nil, &RequestError{Message: "zero code"}
		case "plain":
			return nil, errors.New("no such block")
		case "big":
			return make([]byte, 101), nil
		}
		return req, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := b.HandleRequests(topicRPC, func(context.Context, crypto.ID, []byte) ([]byte, error) { return nil, nil }); err == nil {
		t.Fatal("a second handler was registered")
	}
	if err := b.HandleRequests(topicVotes, func(context.Context, crypto.ID, []byte) ([]byte, error) { return nil, nil }); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("handler on a topic without Requests: %v", err)
	}
	dial(t, a, b)
	ctx := context.Background()
	cases := []struct {
		name   string
		peer   crypto.ID
		topic  uint8
		req    string
		code   RequestCode
		remote bool
		text   string
		is     error
	}{
		{name: "no handler", peer: b.ID(), topic: topicRPC2, req: "x", code: RequestUnknownTopic, remote: true},
		{name: "typed refusal", peer: b.ID(), topic: topicRPC, req: "typed", code: RequestRefused, remote: true, text: "not today"},
		{name: "typed refusal without a code", peer: b.ID(), topic: topicRPC, req: "no code", code: RequestRefused, remote: true, text: "zero code"},
		{name: "plain error", peer: b.ID(), topic: topicRPC, req: "plain", code: RequestRefused, remote: true, text: "no such block"},
		{name: "handler's response too large", peer: b.ID(), topic: topicRPC, req: "big", code: RequestTooLarge, remote: true},
		{name: "request over the peer's maximum", peer: b.ID(), topic: topicRPC, req: strings.Repeat("r", 51), code: RequestTooLarge, remote: true},
		{name: "request over our maximum", peer: b.ID(), topic: topicRPC2, req: strings.Repeat("r", 2000), code: RequestTooLarge},
		{name: "not a request topic", peer: b.ID(), topic: topicVotes, req: "x", is: ErrUnknownTopic},
		{name: "undeclared topic", peer: b.ID(), topic: 99, req: "x", is: ErrUnknownTopic},
		{name: "unknown peer", peer: testIdentity(t, 99).ID(), topic: topicRPC, req: "x", is: ErrUnknownPeer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := a.Request(ctx, c.peer, c.topic, []byte(c.req))
			if c.is != nil {
				if !errors.Is(err, c.is) {
					t.Fatalf("Request = %v, want %v", err, c.is)
				}
				return
			}
			var re *RequestError
			if !errors.As(err, &re) || re.Code != c.code || re.Remote != c.remote || !errors.Is(err, &RequestError{Code: c.code}) {
				t.Fatalf("Request = %v, want code %v remote %v", err, c.code, c.remote)
			}
			if c.text != "" && re.Message != c.text {
				t.Fatalf("message %q, want %q", re.Message, c.text)
			}
		})
	}
	if resp, err := a.Request(ctx, b.ID(), topicRPC, []byte("echo")); err != nil || string(resp) != "echo" {
		t.Fatalf("after the errors: %q %v", resp, err)
	}
	if a.Stats().Violations+b.Stats().Violations != 0 {
		t.Fatal("an error response counted as a violation")
	}
}

// TestRequestConfig: out-of-range request settings are refused naming the
// field; the defaults are filled in.
func TestRequestConfig(t *testing.T) {
	for _, c := range []struct {
		rc    RequestConfig
		field string
	}{
		{RequestConfig{MaxRequestSize: -1}, "Topics[3].Requests.MaxRequestSize"},
		{RequestConfig{MaxResponseSize: mux.MaxMessageSizeLimit}, "Topics[3].Requests.MaxResponseSize"},
		{RequestConfig{MaxConcurrent: MaxConcurrentRequestsLimit + 1}, "Topics[3].Requests.MaxConcurrent"},
		{RequestConfig{Timeout: time.Hour}, "Topics[3].Requests.Timeout"},
		{RequestConfig{Timeout: -time.Second}, "Topics[3].Requests.Timeout"},
	} {
		cfg := rrConfig(t, 1, c.rc)
		if _, err := cfg.settings(); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%+v: %v, want an error naming %s", c.rc, err, c.field)
		}
	}
	cfg := rrConfig(t, 1, RequestConfig{MaxResponseSize: 1 << 20})
	s, err := cfg.settings()
	if err != nil {
		t.Fatal(err)
	}
	rc := s.topicByID[topicRPC].Requests
	if rc.MaxRequestSize != 64<<10 || rc.MaxConcurrent != DefaultMaxConcurrentRequests || rc.Timeout != DefaultRequestTimeout {
		t.Fatalf("defaults %+v", rc)
	}
	for _, ct := range s.connTopics {
		if ct.ID == topicRPC && ct.MaxMessageSize != 1<<20+gossipOverhead {
			t.Fatalf("the multiplexer's bound %d does not fit a 1 MiB response", ct.MaxMessageSize)
		}
	}
	if cfg.Topics[3].Requests.MaxConcurrent != 0 {
		t.Fatal("New changed the caller's RequestConfig")
	}
}

// TestRequestStop: a request waiting at Stop returns ErrClosed, and a
// handler blocked on its context lets Stop finish.
func TestRequestStop(t *testing.T) {
	cfg := rrConfig(t, 1, RequestConfig{Timeout: time.Minute})
	a := startNode(t, cfg)
	b := startNode(t, rrConfig(t, 2, RequestConfig{Timeout: time.Minute}))
	started := make(chan struct{})
	if err := b.HandleRequests(topicRPC, func(ctx context.Context, _ crypto.ID, _ []byte) ([]byte, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	dial(t, a, b)
	errc := make(chan error, 1)
	go func() {
		_, err := a.Request(context.Background(), b.ID(), topicRPC, []byte("q"))
		errc <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("Request at Stop = %v, want ErrClosed", err)
	}
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRequestDefaultTimeout: a context without a deadline gets the
// topic's Timeout, which the peer is told, so its handler stops too.
func TestRequestDefaultTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	a := startNode(t, rrConfig(t, 1, RequestConfig{Timeout: timeout}))
	b := startNode(t, rrConfig(t, 2, RequestConfig{Timeout: time.Minute}))
	ended := make(chan error, 1)
	if err := b.HandleRequests(topicRPC, func(ctx context.Context, _ crypto.ID, _ []byte) ([]byte, error) {
		<-ctx.Done()
		ended <- ctx.Err()
		return nil, ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	dial(t, a, b)
	start := time.Now()
	_, err := a.Request(context.Background(), b.ID(), topicRPC, []byte("q"))
	took := time.Since(start)
	// The peer's handler stops at the deadline it was told, a transit
	// later than ours; its "timeout" answer may still beat our timer's
	// wake-up on a loaded machine. Either is a timeout.
	if !errors.Is(err, ErrRequestTimeout) {
		t.Fatalf("Request = %v, want a timeout", err)
	}
	if took < timeout || took > 30*time.Second {
		t.Fatalf("the request took %v, want the topic's %v", took, timeout)
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the peer's handler ran on past the caller's timeout")
	}
	if st := a.RequestStats(); st.TimedOut+st.Failed != 1 || st.Cancelled != 0 {
		t.Fatalf("caller stats %+v, want one timeout", st)
	}
}
