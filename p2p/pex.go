package p2p

import (
	"errors"
	"math/rand/v2"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/peerbook"
	"github.com/peerwire/peerwire/peerset"
	"github.com/peerwire/peerwire/proto/pb"
)

// pexAsk is how many addresses a PEX request asks for.
const pexAsk = 32

// onPex handles a PEX message on the connection's reader goroutine: the
// book work is bounded and quick, and sends use TrySend, so it never blocks.
// Every PEX message also carries the address its sender sees us at
// (observed.go).
func (n *Node) onPex(pc *peerConn, m *mux.Message) {
	defer m.Done()
	var msg pb.PexMessage
	if err := proto.Unmarshal(m.Data, &msg); err != nil {
		n.malformed(pc, "PEX message: "+err.Error())
		return
	}
	if !n.noteObserved(pc, msg.ProtoReflect().GetUnknown()) {
		return
	}
	switch {
	case msg.GetRequest() != nil:
		n.answerPex(pc, msg.GetRequest())
	case msg.GetResponse() != nil:
		n.ingestPex(pc, msg.GetResponse())
	default:
		n.malformed(pc, "empty PEX message")
	}
}

// answerPex answers a request, at most pexAnswerBurst at once and one
// per PexAnswerInterval on average per peer; faster requests are a rate
// excess, left unanswered.
func (n *Node) answerPex(pc *peerConn, req *pb.PexRequest) {
	now := n.s.Now()
	pc.pexMu.Lock()
	if pc.pexLim == nil {
		pc.pexLim = rate.NewLimiter(rate.Every(n.s.PexAnswerInterval), pexAnswerBurst)
	}
	ok := pc.pexLim.AllowN(now, 1)
	pc.pexMu.Unlock()
	if !ok {
		n.st.rateExcess.Add(1)
		n.applyBan(n.set.Record(pc.id, peerset.EventRateExceeded))
		return
	}
	resp := n.book.AnswerPex(req, pc.id)
	b, err := proto.Marshal(&pb.PexMessage{Msg: &pb.PexMessage_Response{Response: resp}})
	if err != nil {
		return
	}
	b = appendObserved(b, pc.remote)
	if err := pc.mc.TrySend(PexTopic, b); err == nil {
		n.st.pexAnswers.Add(1)
	}
	if n.s.SeedMode && pc.dir == peerset.Inbound {
		// A seed's job with an inbound peer ends once it has answered.
		_ = pc.peer.Disconnect(peerset.ReasonShutdown, "seed: answered")
	}
}

// ingestPex stores the addresses of a response; the book refuses
// unsolicited and oversized ones, which cost the sender reputation.
func (n *Node) ingestPex(pc *peerConn, resp *pb.PexResponse) {
	from := pexSource(pc)
	res, err := n.book.IngestPex(from, resp)
	n.st.pexAdded.Add(uint64(res.Added))
	pc.pexLearned.Add(int64(res.Added))
	switch {
	case errors.Is(err, peerbook.ErrPexUnsolicited), errors.Is(err, peerbook.ErrPexTooMany):
		n.applyBan(n.set.Record(pc.id, peerset.EventBadPEX))
	case err == nil && res.Added > 0:
		n.applyBan(n.set.Record(pc.id, peerset.EventGoodPEX))
	}
	if n.s.SeedMode && pc.dir == peerset.Outbound {
		_ = pc.peer.Disconnect(peerset.ReasonShutdown, "seed: crawled")
	}
}

// pexSource is the reporting peer's address for the book's source
// grouping. Its host is always the connection's IP, which the peer cannot
// choose, so a poisoner cannot spread its reports over many source groups
// by advertising addresses elsewhere; the port is the advertised one when
// the peer has one.
func pexSource(pc *peerConn) crypto.Address {
	a := crypto.Address{ID: pc.id, Host: pc.remote.Addr().String(), Port: pc.remote.Port()}
	for _, s := range pc.meta.GetListenAddrs() {
		if adv, err := crypto.ParseAddress(s); err == nil && adv.ID == pc.id {
			a.Port = adv.Port
			break
		}
	}
	return a
}

// requestPex asks pc for addresses.
func (n *Node) requestPex(pc *peerConn) {
	if !pc.mc.CanSend(PexTopic) {
		return
	}
	if err := n.book.MarkPexRequested(pc.id); err != nil {
		return
	}
	b, err := proto.Marshal(&pb.PexMessage{Msg: &pb.PexMessage_Request{Request: &pb.PexRequest{Max: pexAsk}}})
	if err != nil {
		return
	}
	b = appendObserved(b, pc.remote)
	if pc.mc.TrySend(PexTopic, b) == nil {
		n.st.pexRequests.Add(1)
	}
}

// pexRound asks one random peer for addresses while the node is below its
// outbound target (always, in seed mode).
func (n *Node) pexRound() {
	c := n.set.Counts()
	if !n.s.SeedMode && c.OutboundSlots >= n.maxOutbound() && n.book.Len() > 0 {
		return
	}
	peers := n.connected()
	if len(peers) == 0 {
		return
	}
	n.requestPex(peers[rand.IntN(len(peers))])
}

// onAdmitted runs once a peer is admitted: a node that still needs peers
// asks a new outbound peer for addresses at once instead of waiting for the
// next PEX round.
//
// A seed-role peer is always asked, whatever our slots: it answers and
// disconnects, freeing the slot it holds. A seed, for its part, drops a
// peer that is still connected after seedLinger (seedSweep).
func (n *Node) onAdmitted(pc *peerConn) {
	isSeed := pc.meta.GetRole() == pb.NodeRole_NODE_ROLE_SEED
	if pc.dir == peerset.Outbound && (isSeed || n.s.SeedMode || n.set.Counts().OutboundSlots < n.maxOutbound()) {
		n.requestPex(pc)
	}
}

// seedSweep disconnects, in seed mode, every peer connected for seedLinger
// or longer by the node's clock (Config.Clock) — an inbound peer that never
// asked, an outbound one that never answered — so none holds a slot of
// ours, or its own, for long. Must-connect peers stay. It returns the
// peers it disconnected.
func (n *Node) seedSweep(now time.Time) []crypto.ID {
	if !n.s.SeedMode {
		return nil
	}
	var out []crypto.ID
	for _, pc := range n.connected() {
		if now.Sub(pc.since) < seedLinger || n.set.IsMustConnect(pc.id) {
			continue
		}
		_ = pc.peer.Disconnect(peerset.ReasonShutdown, "seed: done")
		out = append(out, pc.id)
	}
	return out
}
