package p2p

import (
	"encoding/hex"
	"flag"
	"net/netip"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

var updateDialBackVectors = flag.Bool("update-dialback-vectors", false, "rewrite testdata/dialback_vectors.json from this implementation")

// computeDialBackVectors builds the dial-back messages of
// docs/PROTOCOL.md §9.7 from their fixed inputs, checks that the decoders
// take each back, and returns them by name, hex encoded.
func computeDialBackVectors(t *testing.T) map[string]string {
	const id = 7
	v4 := netip.MustParseAddrPort("192.0.2.1:26656")
	v6 := netip.MustParseAddrPort("[2001:db8::1]:26656")
	msgs := map[string][]byte{
		"dialback_request_v4":  encodeRequest(id, dialBackTimeout, encodeDialBackRequest(v4)),
		"dialback_request_v6":  encodeRequest(id, dialBackTimeout, encodeDialBackRequest(v6)),
		"dialback_reached":     encodeResponse(id, []byte{dialBackReached}),
		"dialback_unreachable": encodeResponse(id, []byte{dialBackUnreachable}),
		"dialback_refused":     encodeError(id, RequestRefused, "dial-back only to the IP your connection comes from"),
	}
	v := map[string]string{}
	for name, b := range msgs {
		w, err := parseRR(b)
		if err != nil || w.id != id {
			t.Fatalf("%s does not decode: %+v, %v", name, w, err)
		}
		switch w.kind {
		case kindRequest:
			ap, err := decodeDialBackRequest(w.body)
			if err != nil || w.timeout != 20*time.Second || (ap != v4 && ap != v6) {
				t.Fatalf("%s decodes to %v (%v), timeout %v", name, ap, err, w.timeout)
			}
		case kindResponse:
			if _, err := decodeDialBackResponse(w.body); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		v[name] = hex.EncodeToString(b)
	}
	return v
}

// TestDialBackVectors checks this implementation against
// testdata/dialback_vectors.json and checks that docs/PROTOCOL.md quotes
// every value (go test ./p2p -run TestDialBackVectors
// -update-dialback-vectors rewrites the file).
func TestDialBackVectors(t *testing.T) {
	testutil.CheckVectors(t, computeDialBackVectors(t), "testdata/dialback_vectors.json", "../docs/PROTOCOL.md", *updateDialBackVectors)
}
