package p2p

import (
	"crypto/ed25519"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/proto/pb"
)

// FuzzAppMessage feeds arbitrary bytes to the decoder of application-topic
// messages, as any connected peer could send them. It must never panic,
// never accept a payload over the topic's maximum, never pass a hop count
// above the limit, and accept a signature only when it is valid (and, on
// a signed topic, none but a valid one).
func FuzzAppMessage(f *testing.F) {
	origin := testIdentity(f, 1)
	oid := origin.ID()
	env := &pb.GossipEnvelope{Hops: 3, Origin: oid[:], Nonce: 9, Payload: []byte("block"), TimeMs: 1_700_000_000_000}
	id := gossipID(2, oid, 9, env.TimeMs, env.Payload)
	env.OriginKey = origin.PublicKey()
	env.Signature = origin.Sign(gossipSigningInput(id))
	signed, _ := encodeGossip(env)
	f.Add(signed)
	unsigned, _ := encodeGossip(&pb.GossipEnvelope{Hops: 1, Origin: oid[:], Nonce: 1, TimeMs: 1})
	f.Add(unsigned)
	f.Add(append([]byte{kindDirect}, "vote"...))
	f.Add([]byte{kindGossip, 0x10, 0xff, 0x01})
	f.Add([]byte{0x07})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, sign := range []bool{false, true} {
			tc := &TopicConfig{TopicConfig: mux.TopicConfig{ID: 2, MaxMessageSize: 1024}, UnsignedGossip: !sign}
			am, err := parseAppMessage(tc, 10, data)
			if err != nil {
				continue
			}
			if len(am.payload) > tc.MaxMessageSize {
				t.Fatalf("accepted a %d-byte payload over the maximum", len(am.payload))
			}
			if !am.gossip {
				continue
			}
			if am.env.Hops == 0 || am.env.Hops > 10 {
				t.Fatalf("accepted hops %d", am.env.Hops)
			}
			if am.id != gossipID(2, am.origin, am.env.Nonce, am.env.TimeMs, am.payload) {
				t.Fatal("message ID not computed from the content")
			}
			verified, err := verifyOrigin(am.env, am.id, am.origin, sign)
			if err != nil {
				continue
			}
			if (sign || verified) && !ed25519.Verify(am.env.OriginKey, gossipSigningInput(am.id), am.env.Signature) {
				t.Fatal("accepted an invalid or missing signature as verified")
			}
			if sign && !verified {
				t.Fatal("accepted unsigned gossip on a signed topic")
			}
		}
	})
}

// FuzzPexMessage: any bytes on the PEX topic decode to a request, a
// response, or an error, without panicking; what decodes re-encodes.
func FuzzPexMessage(f *testing.F) {
	req, _ := proto.Marshal(&pb.PexMessage{Msg: &pb.PexMessage_Request{Request: &pb.PexRequest{Max: 32}}})
	resp, _ := proto.Marshal(&pb.PexMessage{Msg: &pb.PexMessage_Response{Response: &pb.PexResponse{
		Addrs: []*pb.PeerAddress{{Id: make([]byte, 20), Host: "127.0.0.1", Port: 26656}}}}})
	f.Add(req)
	f.Add(resp)
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m pb.PexMessage
		if err := proto.Unmarshal(data, &m); err != nil {
			return
		}
		if _, err := proto.Marshal(&m); err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
	})
}
