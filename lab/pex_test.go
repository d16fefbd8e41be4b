package lab

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/internal/testutil"
	"github.com/peerwire/peerwire/proto/pb"
)

// pexPoisoner is a peer that completes the handshake honestly and answers
// every PEX request with 32 fresh addresses from one /16 (10.200.0.0/16),
// none of which exists. It answers pings so it stays connected.
type pexPoisoner struct {
	answered, sent atomic.Int64
}

func (pp *pexPoisoner) serve(p *rawPeer) {
	defer p.ec.Close()
	var hdr [8]byte
	msgs := map[uint8][]byte{}
	want := map[uint8]int{}
	for {
		if _, err := io.ReadFull(p.ec, hdr[:4]); err != nil {
			return
		}
		topic, kind, n := hdr[0], hdr[1], int(binary.BigEndian.Uint16(hdr[2:4]))
		if topic != 0 && kind&1 != 0 {
			if _, err := io.ReadFull(p.ec, hdr[4:8]); err != nil {
				return
			}
			want[topic] = int(binary.BigEndian.Uint32(hdr[4:8]))
			msgs[topic] = msgs[topic][:0]
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(p.ec, body); err != nil {
			return
		}
		if topic == 0 {
			switch kind {
			case 2: // PING → PONG
				p.ec.Write(append(ctrl(3, 8), body...))
			case 5: // GOAWAY
				return
			}
			continue
		}
		msgs[topic] = append(msgs[topic], body...)
		if len(msgs[topic]) < want[topic] || topic != 255 {
			continue
		}
		var m pb.PexMessage
		if proto.Unmarshal(msgs[topic], &m) != nil || m.GetRequest() == nil {
			continue
		}
		resp := &pb.PexResponse{}
		for i := 0; i < 32; i++ {
			var id [20]byte
			for j := range id {
				id[j] = byte(rand.IntN(256))
			}
			host := fmt.Sprintf("10.200.%d.%d", rand.IntN(256), 1+rand.IntN(254))
			resp.Addrs = append(resp.Addrs, &pb.PeerAddress{Id: id[:], Host: host, Port: 26656})
		}
		b, _ := proto.Marshal(&pb.PexMessage{Msg: &pb.PexMessage_Response{Response: resp}})
		if _, err := p.ec.Write(message(255, b, p.maxPkt)); err != nil {
			return
		}
		pp.answered.Add(1)
		pp.sent.Add(32)
	}
}

// TestPexPoisoning surrounds a `peerwire node` (-allow-private) with eight
// honest labnodes, each in its own /16 (10.N.0.1), and five poisoning peers
// on one attacker host in 10.200.0.0/16 that answer every PEX request with
// 32 fresh addresses from that /16. The victim bootstraps to one honest
// node and one poisoner; the other poisoners dial in.
//
// Bounds (peerbook constants): addresses of one group reported from one
// source group all land in a single new-table bucket of 64 slots, so the
// poison /16 holds at most 64 reported entries plus the 5 poisoners' own
// addresses; the outbound set holds at most one peer per /16 (the default
// MaxOutboundPerGroup), so at most one outbound peer is a poisoner; and the
// honest groups still fill the outbound set — at least 4 honest /16s
// within 60 s (the victim learns them through PEX from honest peers, and
// half of its dial picks come from the tried table once it has one).
func TestPexPoisoning(t *testing.T) {
	const honest = 8
	l := New(t, honest+2)
	ctx := Context(t)
	private := func(i int) string { return fmt.Sprintf("10.%d.0.1", i) }
	// Host 0: the victim at 10.100.0.1; hosts 1-8: honest at 10.N.0.1;
	// host 9: the attacker at 10.200.0.1-5.
	l.Hosts[0].AddAddrs([]string{"10.100.0.1/8"})
	for i := 1; i <= honest; i++ {
		l.Hosts[i].AddAddrs([]string{private(i) + "/8"})
	}
	attacker := l.Hosts[honest+1]
	var atk []string
	for k := 1; k <= 5; k++ {
		atk = append(atk, fmt.Sprintf("10.200.0.%d", k))
	}
	cidrs := make([]string, len(atk))
	for i, a := range atk {
		cidrs[i] = a + "/8"
	}
	attacker.AddAddrs(cidrs)

	honestAddr := func(i int) string { return NodeAddr(fmt.Sprintf("h%d", i), private(i)+":26656") }
	for i := 1; i <= honest; i++ {
		var boot []string
		for _, d := range []int{1, 2, 3} {
			boot = append(boot, honestAddr((i+d-1)%honest+1))
		}
		startLabNode(t, l.Hosts[i], fmt.Sprintf("h%d", i), "-listen", private(i)+":26656", "-allow-private",
			"-network", "peerwire-lab", "-chain", "lab-1", "-bootstrap", strings.Join(boot, ","), "-probe-every", "0")
	}
	victimID := Identity("v").ID()
	pp := &pexPoisoner{}
	var ids []*crypto.Identity
	for k := range atk {
		id := Identity(fmt.Sprintf("poisoner-%d", k))
		ids = append(ids, id)
		sc := &conn.SecureConfig{Identity: id, NetworkID: "peerwire-lab", ChainID: "lab-1",
			Meta: &pb.PeerMeta{Topics: pwTopics, ListenAddrs: []string{id.ID().String() + "@" + atk[k] + ":26656"}}}
		ln, err := attacker.Listen(atk[k] + ":26656")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				raw, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					ec, err := conn.Server(ctx, raw, sc)
					if err != nil {
						raw.Close()
						return
					}
					if p, err := rawSetup(raw, ec); err == nil {
						pp.serve(p)
					}
				}()
			}
		}()
	}
	v := newPWNode(t, l.Hosts[0], "v", "-allow-private", "-max-outbound", "8", "-listen", "10.100.0.1:26656",
		"-bootstrap", honestAddr(1)+","+ids[0].ID().String()+"@"+atk[0]+":26656")
	v.start("run")
	// The other poisoners dial in.
	for k := 1; k < len(atk); k++ {
		go func() {
			sc := &conn.SecureConfig{Identity: ids[k], NetworkID: "peerwire-lab", ChainID: "lab-1",
				Meta: &pb.PeerMeta{Topics: pwTopics, ListenAddrs: []string{ids[k].ID().String() + "@" + atk[k] + ":26656"}}}
			for ctx.Err() == nil {
				raw, err := attacker.DialFrom(ctx, atk[k], "10.100.0.1:26656")
				if err == nil {
					if ec, err := conn.Client(ctx, raw, sc, victimID); err == nil {
						if p, err := rawSetup(raw, ec); err == nil {
							pp.serve(p)
						}
					} else {
						raw.Close()
					}
				}
				sleepCtx(ctx, time.Second)
			}
		}()
	}
	poison := netip.MustParsePrefix("10.200.0.0/16")
	group := func(hostport string) string {
		ap, err := netip.ParseAddrPort(hostport)
		if err != nil {
			return "?"
		}
		p, _ := ap.Addr().Prefix(16)
		return p.String()
	}
	type outcome struct {
		book, poisonBook, honestGroups, outbound, poisonOut, honestOut int
	}
	measure := func() outcome {
		var o outcome
		b, err := v.Host.Get(ctx, pwAdmin+"/book")
		if err != nil {
			t.Fatal(err)
		}
		var es []struct{ Addr string }
		json.Unmarshal(b, &es)
		groups := map[string]bool{}
		for _, e := range es {
			a, err := crypto.ParseAddress(e.Addr)
			if err != nil {
				continue
			}
			o.book++
			ap, _ := a.AddrPort()
			if poison.Contains(ap.Addr()) {
				o.poisonBook++
			} else {
				groups[group(a.HostPort())] = true
			}
		}
		o.honestGroups = len(groups)
		pb, _ := v.Host.Get(ctx, pwAdmin+"/peers")
		var list struct {
			Peers []struct{ Direction, Remote string }
		}
		json.Unmarshal(pb, &list)
		outGroups := map[string]bool{}
		for _, p := range list.Peers {
			if p.Direction != "outbound" {
				continue
			}
			o.outbound++
			ap, _ := netip.ParseAddrPort(p.Remote)
			if poison.Contains(ap.Addr()) {
				o.poisonOut++
			} else {
				outGroups[group(p.Remote)] = true
			}
		}
		o.honestOut = len(outGroups)
		return o
	}
	var last outcome
	took := testutil.Eventually(t, 60*time.Second, "outbound peers in ≥ 4 honest /16s", func() bool {
		last = measure()
		return last.honestOut >= 4
	})
	time.Sleep(20 * time.Second) // let the poisoners keep answering
	last = measure()
	if last.poisonBook > 64+len(atk) {
		t.Errorf("book holds %d poison entries, bound %d", last.poisonBook, 64+len(atk))
	}
	if last.poisonOut > 1 {
		t.Errorf("%d outbound peers in the poison /16", last.poisonOut)
	}
	if last.honestOut < 4 {
		t.Errorf("outbound peers in only %d honest /16s", last.honestOut)
	}
	figure(t, "5 poisoners in 10.200.0.0/16 answered %d PEX requests with %d addresses from that /16; victim's book: %d entries, %d in the poison /16 (bound 64 + 5), honest entries in %d /16s; outbound: %d peers, %d in the poison /16, %d honest /16s (≥ 4 reached after %v)",
		pp.answered.Load(), pp.sent.Load(), last.book, last.poisonBook, last.honestGroups, last.outbound, last.poisonOut, last.honestOut, took.Round(100*time.Millisecond))

}
