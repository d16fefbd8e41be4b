package p2p

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var updateRequestVectors = flag.Bool("update-request-vectors", false, "rewrite testdata/request_vectors.json from this implementation")

// computeRequestVectors builds the request/response messages of
// docs/PROTOCOL.md §9.5 from their fixed inputs, checks that the decoder
// takes each back, and returns them by name, hex encoded.
func computeRequestVectors(t *testing.T) map[string]string {
	const id = 0x0102030405060708
	msgs := map[string][]byte{
		"rr_request":  encodeRequest(id, 5*time.Second, []byte("get block 7")),
		"rr_response": encodeResponse(id, []byte("block 7")),
		"rr_error":    encodeError(id, RequestOverloaded, "busy"),
		"rr_cancel":   encodeCancel(id),
	}
	want := map[string]rrMsg{
		"rr_request":  {kind: kindRequest, id: id, timeout: 5 * time.Second, body: []byte("get block 7")},
		"rr_response": {kind: kindResponse, id: id, body: []byte("block 7")},
		"rr_error":    {kind: kindError, id: id, code: RequestOverloaded, text: "busy"},
		"rr_cancel":   {kind: kindCancel, id: id},
	}
	v := map[string]string{}
	for name, b := range msgs {
		w, err := parseRR(b)
		if err != nil {
			t.Fatalf("%s does not decode: %v", name, err)
		}
		e := want[name]
		if w.kind != e.kind || w.id != e.id || w.timeout != e.timeout || w.code != e.code || w.text != e.text || string(w.body) != string(e.body) {
			t.Fatalf("%s decodes to %+v, want %+v", name, w, e)
		}
		v[name] = hex.EncodeToString(b)
	}
	return v
}

// TestRequestVectors checks this implementation against
// testdata/request_vectors.json and checks that docs/PROTOCOL.md quotes
// every value (go test ./p2p -run TestRequestVectors
// -update-request-vectors rewrites the file).
func TestRequestVectors(t *testing.T) {
	got := computeRequestVectors(t)
	path := "testdata/request_vectors.json"
	if *updateRequestVectors {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]string
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("vector file has %d values, implementation computes %d", len(want), len(got))
	}
	spec, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	specText := strings.Join(strings.Fields(string(spec)), "")
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s:\n got %s\nwant %s", name, got[name], w)
		}
		if quoted(specText, name) != w {
			t.Errorf("docs/PROTOCOL.md does not quote %s under its name", name)
		}
	}
}

// quoted returns the first code block after the bold name in spec (with
// whitespace removed), or "".
func quoted(spec, name string) string {
	_, after, ok := strings.Cut(spec, "**"+name+"**")
	if !ok {
		return ""
	}
	_, block, ok := strings.Cut(after, "```")
	if !ok {
		return ""
	}
	block, _, _ = strings.Cut(block, "```")
	return block
}

// FuzzRequestMessage feeds arbitrary bytes to the decoder of
// request/response messages, as any connected peer could send them. It
// must never panic, accept only a nonzero ID, a stated timeout within the
// maximum and an error text of valid UTF-8 within its bound, and what it
// accepts must encode back to the same bytes (one encoding per message).
func FuzzRequestMessage(f *testing.F) {
	const id = 0x0102030405060708
	f.Add(encodeRequest(id, 5*time.Second, []byte("get block 7")))
	f.Add(encodeRequest(1, 0, nil))
	f.Add(encodeResponse(id, []byte("block 7")))
	f.Add(encodeResponse(2, nil))
	f.Add(encodeError(id, RequestOverloaded, "busy"))
	f.Add(encodeError(3, 200, ""))
	f.Add(encodeCancel(id))
	f.Add([]byte{kindRequest, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{kindError, 0, 0, 0, 0, 0, 0, 0, 1, 4, 0xff})
	f.Add([]byte{kindRequest, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{kindCancel})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := parseRR(data)
		if err != nil {
			return
		}
		if w.id == 0 {
			t.Fatal("accepted request ID 0")
		}
		var again []byte
		switch w.kind {
		case kindRequest:
			if w.timeout < 0 || w.timeout > MaxRequestTimeout {
				t.Fatalf("accepted timeout %v", w.timeout)
			}
			again = encodeRequest(w.id, w.timeout, w.body)
		case kindResponse:
			again = encodeResponse(w.id, w.body)
		case kindError:
			if w.code == 0 || len(w.text) > MaxRequestErrorText || !utf8.ValidString(w.text) {
				t.Fatalf("accepted error code %d text %q", w.code, w.text)
			}
			again = encodeError(w.id, w.code, w.text)
		case kindCancel:
			again = encodeCancel(w.id)
		default:
			t.Fatalf("accepted kind 0x%02x", w.kind)
		}
		if string(again) != string(data) {
			t.Fatalf("decoded %x, which encodes back as %x", data, again)
		}
	})
}
