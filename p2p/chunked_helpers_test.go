package p2p

// What the chunked tests measure with: deliveries records each node's
// deliveries, disseminate gossips and times a batch, heapPeak samples the heap.

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// deliveries records, per node, each gossip message delivered: how many
// times and whether its bytes were the ones sent, and when the last node
// got it.
type deliveries struct {
	mu    sync.Mutex
	count map[int]map[MessageID]int
	at    map[int]map[MessageID]time.Time // first delivery (Message.ReceivedAt)
	bad   map[int]int
	last  map[MessageID]time.Time

	// readDelay, set before messages flow, makes node i's application
	// read its inbox that much after each message: a slow reader.
	readDelay map[int]time.Duration
	// noOrigin: nodes disseminate never picks as an origin.
	noOrigin map[int]bool
}

func trackDeliveries(nodes []*Node, want func(MessageID) [32]byte, topics ...uint8) *deliveries {
	return trackDeliveriesSlow(nil, nodes, nil, want, topics...)
}

// trackDeliveriesSlow is trackDeliveries with slow readers; their pauses
// end when t does.
func trackDeliveriesSlow(t *testing.T, nodes []*Node, readDelay map[int]time.Duration, want func(MessageID) [32]byte, topics ...uint8) *deliveries {
	d := &deliveries{count: map[int]map[MessageID]int{}, at: map[int]map[MessageID]time.Time{}, bad: map[int]int{},
		last: map[MessageID]time.Time{}, readDelay: readDelay}
	stop := make(chan struct{})
	if t != nil {
		t.Cleanup(func() { close(stop) })
	}
	for i, n := range nodes {
		d.count[i] = map[MessageID]int{}
		d.at[i] = map[MessageID]time.Time{}
		for _, tp := range topics {
			ch := n.Inbox(tp)
			delay := readDelay[i]
			go func() {
				for m := range ch {
					sum := sha256.Sum256(m.Data)
					d.mu.Lock()
					d.count[i][m.ID]++
					if sum != want(m.ID) {
						d.bad[i]++
					}
					if d.at[i][m.ID].IsZero() {
						d.at[i][m.ID] = m.ReceivedAt
					}
					if m.ReceivedAt.After(d.last[m.ID]) {
						d.last[m.ID] = m.ReceivedAt
					}
					d.mu.Unlock()
					if delay > 0 { // the slow reader under test, not synchronisation
						select {
						case <-time.After(delay):
						case <-stop:
						}
					}
				}
			}()
		}
	}
	return d
}

// spread is what disseminate measured.
type spread struct {
	ids                      map[MessageID]int // message → origin
	lastP50                  time.Duration     // per message, Gossip to the last node's delivery: median
	deliveryP50, deliveryP99 time.Duration     // per delivery, Gossip to delivery
	curve                    []time.Duration   // every delivery's latency, sorted
}

// complete reports whether every node but the origin has every message.
func (d *deliveries) complete(ids map[MessageID]int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, c := range d.count {
		for id, origin := range ids {
			if i != origin && c[id] == 0 {
				return false
			}
		}
	}
	return true
}

// disseminate gossips msgs messages of size bytes on topic from random
// origins, one every gap, and waits until every node has each. It
// returns the median time from a message's Gossip to its last delivery.
func disseminate(t testing.TB, nodes []*Node, d *deliveries, sums map[MessageID][32]byte, mu *sync.Mutex,
	topic uint8, msgs, size int, gap time.Duration, seed uint64) spread {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	ids := map[MessageID]int{}
	sent := map[MessageID]time.Time{}
	for k := range msgs {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		o := rng.IntN(len(nodes))
		for d.noOrigin[o] {
			o = rng.IntN(len(nodes))
		}
		mu.Lock()
		start := time.Now()
		id, _, err := nodes[o].Gossip(context.Background(), topic, data)
		if err != nil {
			mu.Unlock()
			t.Fatal(err)
		}
		sums[id] = sha256.Sum256(data)
		mu.Unlock()
		ids[id], sent[id] = o, start
		if k < msgs-1 {
			time.Sleep(gap) // the schedule under test, not synchronisation
		}
	}
	// 60 s, plus 10 s per 16 MiB message beyond the first.
	wait := 60*time.Second + time.Duration(msgs-1)*time.Duration(size>>20)*10*time.Second/16
	deadline := time.Now().Add(wait)
	for !d.complete(ids) {
		if time.Now().After(deadline) {
			for i, n := range nodes {
				if e := n.topics[topic].ck; e != nil {
					d.mu.Lock()
					var missing []MessageID
					for id, o := range ids {
						if o != i && d.count[i][id] == 0 {
							missing = append(missing, id)
						}
					}
					d.mu.Unlock()
					if len(missing) > 0 {
						s := n.ChunkedStats()
						t.Logf("node %d: missing %v headers %d refused %d completed %d delivered %d evicted %d %s", i, missing, s.Headers, s.HeadersRefused, s.Completed, s.Delivered, s.Evicted, e.debugState())
					}
				}
			}
			t.Fatalf("not every node has every message of topic %d within %v", topic, wait)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, as testutil.Eventually
	}
	var lat, each []time.Duration
	d.mu.Lock()
	for id := range ids {
		lat = append(lat, d.last[id].Sub(sent[id]))
		for i := range nodes {
			if at := d.at[i][id]; !at.IsZero() {
				each = append(each, at.Sub(sent[id]))
			}
		}
	}
	d.mu.Unlock()
	slices.Sort(lat)
	slices.Sort(each)
	return spread{ids: ids, lastP50: lat[len(lat)/2], deliveryP50: each[len(each)/2], deliveryP99: each[len(each)*99/100], curve: each}
}

// heapPeak samples the process's heap in use every 20 ms until the test
// ends; each call of the function it returns reports the peak since the
// previous call and starts a new one.
func heapPeak(t *testing.T) func() uint64 {
	var mu sync.Mutex
	var peak uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				mu.Lock()
				peak = max(peak, ms.HeapInuse)
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		p := peak
		peak = 0
		return p
	}
}

// debugState describes the partial messages, for a test that times out.
func (e *chunkEngine) debugState() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b []byte
	for _, m := range e.msgs {
		if m.done {
			continue
		}
		b = fmt.Appendf(b, "msg %s: %d/%d chunks, pulls %d (node %d), pusher %s dropped %v idle %v, age %v, chunks failed %d, from %s, peers:", m.id, m.nhave, len(m.chunks), m.pulls, e.pulls, m.pusher.Short(), m.pusherDropped, time.Since(m.lastPush), time.Since(m.created), len(m.failed), m.from.Short())
		for id, p := range m.peers {
			b = fmt.Appendf(b, " %s(has %d full %v pun %v fail %d infl %d heard %v)", id.Short(), bitmapCount(p.has), p.full, p.punished, p.failures, e.inflight[id], !p.heardAt.IsZero())
		}
		b = append(b, '\n')
	}
	return string(b)
}
