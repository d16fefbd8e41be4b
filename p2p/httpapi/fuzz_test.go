package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/peerwire/peerwire/proto/pb"
)

// FuzzRequestBodies sends arbitrary bodies to the API's JSON decoding (both
// request types) and to the whole POST /bans handler of a real node, which
// touches no network. Every answer must be a JSON object with a known
// status; nothing may panic. POST /peers is decoded but not run, because a
// fuzzed address could name a host outside loopback.
func FuzzRequestBodies(f *testing.F) {
	f.Add([]byte(`{"addr":"0123456789abcdef0123456789abcdef01234567@127.0.0.1:1","must_connect":true}`))
	f.Add([]byte(`{"id":"0123456789abcdef0123456789abcdef01234567","duration":"1h","reason":"spam"}`))
	f.Add([]byte(`{"id":"x","duration":"-5s"}`))
	f.Add([]byte(`{"ip":"::ffff:192.0.2.1","duration":"1h"}`))
	f.Add([]byte(`{"prefix":"2001:db8::/32","duration":"1h","reason":"sybils"}`))
	f.Add([]byte(`{"prefix":"0.0.0.0/0","ip":"1.2.3.4","duration":"1h"}`))
	f.Add([]byte(`{"duration":"99999999999h"}`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(`[`))
	node := startNode(f, 90, pb.NodeRole_NODE_ROLE_FULL)
	h := New(node, Options{})
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{&DialRequest{}, &BanRequest{}} {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/peers", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			if !decode(w, r, v) && w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("refused body answered %d", w.Code)
			}
		}
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/bans", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK, http.StatusCreated, http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("POST /bans answered %d: %s", w.Code, w.Body.String())
		}
		var obj map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &obj); err != nil {
			t.Fatalf("answer is not a JSON object: %q", w.Body.String())
		}
	})
}
