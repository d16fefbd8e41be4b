package p2p

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/proto/pb"
)

// settingsAndDirect encodes, as one batch of packets, a SETTINGS for
// topics (docs/PROTOCOL.md §8.3) followed by count direct messages on
// topic: what a peer can put in its first write, before the node has
// decided whether to admit it.
func settingsAndDirect(topics []mux.TopicConfig, topic uint8, count int) []byte {
	body := []byte{1, 0x40, 0x00, 0, 0, 0, 0} // version 1, max_packet 16384, recv_rate 0
	for _, tc := range topics {
		body = append(body, tc.ID)
		body = binary.BigEndian.AppendUint32(body, 1<<20)  // max_message
		body = binary.BigEndian.AppendUint32(body, 16<<20) // window
	}
	b := []byte{0, 1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	b = append(b, body...)
	for i := 0; i < count; i++ {
		payload := []byte{kindDirect, 'r', byte(i)}
		b = append(b, topic, 0x01)
		b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
		b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
		b = append(b, payload...)
	}
	return b
}

// TestRefusedPeersMessagesDiscarded: with every inbound peer refused (no
// inbound slots), many peers each send SETTINGS and a burst of direct
// messages in their very first write, while another goroutine keeps
// calling Peers (as the admin API or a metrics scraper does, which delays
// admission). Not one of those messages may reach an inbox, and every
// connection still ends with a goaway. A refused peer's MultiConn is never
// started, so none of its messages is even read (Discarded stays 0).
func TestRefusedPeersMessagesDiscarded(t *testing.T) {
	const (
		conns   = 300
		perConn = 20
		workers = 8
	)
	cfg := quietConfig(t, 800)
	cfg.Peers.MaxInbound = -1
	cfg.MaxHandshakes = 256
	hub := startNode(t, cfg)
	inbox := drainInboxes(hub)
	stop := make(chan struct{})
	var scraper sync.WaitGroup
	scraper.Add(1)
	go func() {
		defer scraper.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = hub.Peers()
			}
		}
	}()
	batch := settingsAndDirect(hub.s.connTopics, topicVotes, perConn)
	var next, goaways atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= conns {
					return
				}
				if refusedBurst(t, hub, int(1000+i), batch) {
					goaways.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	scraper.Wait()
	if t.Failed() {
		return
	}
	// Every refused connection has ended on our side once it is untracked;
	// anything it delivered would be in the inbox by then.
	testutil.Eventually(t, 10*time.Second, "the refused connections to end", func() bool {
		hub.conns.Lock()
		defer hub.conns.Unlock()
		return len(hub.conns.live) == 0
	})
	if got, d := inbox.total(), hub.Stats().Discarded; got != 0 || d != 0 {
		t.Fatalf("%d messages from refused peers reached the inbox; %d read and discarded", got, d)
	}
	if s := hub.Stats(); s.Refusals["too-many-peers"] != conns || s.Delivered != 0 {
		t.Fatalf("refusals %v, delivered %d", s.Refusals, s.Delivered)
	}
	if goaways.Load() != conns {
		t.Fatalf("%d of %d refused connections got a goaway", goaways.Load(), conns)
	}
}

// refusedBurst connects as identity i, writes batch at once and reads
// until the node closes the connection; it reports whether the node sent a
// GOAWAY first.
func refusedBurst(t *testing.T, hub *Node, i int, batch []byte) bool {
	id := testIdentity(t, i)
	secure := &conn.SecureConfig{Identity: id, NetworkID: hub.s.NetworkID, ChainID: hub.s.ChainID,
		Meta: &pb.PeerMeta{Topics: mux.TopicIDs(hub.s.connTopics)}}
	raw, err := net.DialTimeout("tcp", hub.ListenAddr().HostPort(), 10*time.Second)
	if err != nil {
		t.Error(err)
		return false
	}
	defer raw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ec, err := conn.Client(ctx, raw, secure, hub.ID())
	if err != nil {
		t.Error(err)
		return false
	}
	defer ec.Close()
	if _, err := ec.Write(batch); err != nil {
		t.Error(err)
		return false
	}
	ec.SetReadDeadline(time.Now().Add(30 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for {
		k, err := ec.Read(buf)
		got = append(got, buf[:k]...)
		if err != nil {
			break
		}
	}
	// The node's SETTINGS comes first, then (flow control aside) its GOAWAY.
	for len(got) >= 4 {
		typ, n := got[1], int(binary.BigEndian.Uint16(got[2:4]))
		hdr := 4
		if got[0] != 0 {
			hdr = 8
			if got[1]&1 == 0 {
				hdr = 4
			}
		}
		if got[0] == 0 && typ == 5 {
			return true
		}
		if len(got) < hdr+n {
			break
		}
		got = got[hdr+n:]
	}
	return false
}

// TestBannedPeersMessagesDiscarded: a peer the node has banned is refused
// from that moment: what it still sends while its
// connection closes is read, so its credit is returned, but not delivered,
// and Stats.Discarded counts it. Messages that reach the inbox plus those
// discarded are every message sent.
func TestBannedPeersMessagesDiscarded(t *testing.T) {
	const perConn = 20
	hub := startNode(t, quietConfig(t, 850))
	inbox := drainInboxes(hub)
	id := testIdentity(t, 851)
	secure := &conn.SecureConfig{Identity: id, NetworkID: hub.s.NetworkID, ChainID: hub.s.ChainID,
		Meta: &pb.PeerMeta{Topics: mux.TopicIDs(hub.s.connTopics)}}
	raw, err := net.DialTimeout("tcp", hub.ListenAddr().HostPort(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ec, err := conn.Client(t.Context(), raw, secure, hub.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	settings := settingsAndDirect(hub.s.connTopics, topicVotes, 0)
	msgs := settingsAndDirect(hub.s.connTopics, topicVotes, perConn)[len(settings):]
	if _, err := ec.Write(settings); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the peer admitted", func() bool { return connectedTo(hub, id.ID()) })
	if err := hub.Ban(id.ID(), time.Hour, "test"); err != nil {
		t.Fatal(err)
	}
	// The peer has not read the goaway: it sends on, then reads until the
	// node closes (closing with unread data would reset the connection,
	// and the node might never read the messages).
	if _, err := ec.Write(msgs); err != nil {
		t.Fatal(err)
	}
	ec.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, ec); err != nil && !errors.Is(err, io.EOF) {
		t.Logf("reading until the node closed: %v", err)
	}
	ec.Close()
	testutil.Eventually(t, 10*time.Second, "every message delivered or discarded", func() bool {
		return uint64(inbox.total())+hub.Stats().Discarded == perConn
	})
	if got := inbox.total(); got != 0 {
		t.Fatalf("%d of %d messages sent after the ban reached the inbox", got, perConn)
	}
}
