package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/proto/pb"
)

// TestBrowserRequestsRefused: what a web page can make a browser send to
// the loopback API (a cross-site "simple" POST with a text/plain body, or
// any request under a rebound DNS name) is refused and changes nothing;
// the same requests from the CLI (JSON, no Origin, a loopback Host) and
// same-origin ones work.
func TestBrowserRequestsRefused(t *testing.T) {
	a := startNode(t, 20, pb.NodeRole_NODE_ROLE_FULL)
	open := httptest.NewServer(New(a, Options{}))
	defer open.Close()
	withToken := httptest.NewServer(New(a, Options{Token: "tok"}))
	defer withToken.Close()
	port := open.URL[strings.LastIndex(open.URL, ":"):]
	victim := strings.Repeat("cd", crypto.IDLen)
	banBody := `{"id":"` + victim + `","duration":"1h","reason":"csrf"}`
	mustBody := `{"addr":"` + victim + `@127.0.0.1:9","must_connect":true}`
	const jsonCT = "application/json"
	for _, tc := range []struct {
		name         string
		srv          *httptest.Server
		token        string
		method, path string
		body, ctype  string
		origin, host string
		fetchSite    string
		status       int
		code         string
	}{
		{name: "cross-site text/plain ban", srv: open, method: "POST", path: "/bans", body: banBody, ctype: "text/plain", origin: "http://evil.example", status: 403, code: "forbidden_origin"},
		{name: "text/plain ban without Origin", srv: open, method: "POST", path: "/bans", body: banBody, ctype: "text/plain", status: 415, code: "unsupported_media_type"},
		{name: "form ban", srv: open, method: "POST", path: "/bans", body: banBody, ctype: "application/x-www-form-urlencoded", status: 415, code: "unsupported_media_type"},
		{name: "ban without Content-Type", srv: open, method: "POST", path: "/bans", body: banBody, status: 415, code: "unsupported_media_type"},
		{name: "cross-site JSON ban", srv: open, method: "POST", path: "/bans", body: banBody, ctype: jsonCT, origin: "http://evil.example", status: 403, code: "forbidden_origin"},
		{name: "opaque Origin ban", srv: open, method: "POST", path: "/bans", body: banBody, ctype: jsonCT, origin: "null", status: 403, code: "forbidden_origin"},
		{name: "cross-site Sec-Fetch-Site", srv: open, method: "POST", path: "/bans", body: banBody, ctype: jsonCT, fetchSite: "cross-site", status: 403, code: "forbidden_origin"},
		{name: "cross-site must-connect", srv: open, method: "POST", path: "/peers", body: mustBody, ctype: "text/plain", origin: "http://evil.example", status: 403, code: "forbidden_origin"},
		{name: "cross-site JSON must-connect", srv: open, method: "POST", path: "/peers", body: mustBody, ctype: jsonCT, origin: "http://evil.example", status: 403, code: "forbidden_origin"},
		{name: "cross-site unban", srv: open, method: "DELETE", path: "/bans/" + victim, origin: "http://evil.example", status: 403, code: "forbidden_origin"},
		{name: "cross-site read", srv: open, method: "GET", path: "/peers", origin: "http://evil.example", status: 403, code: "forbidden_origin"},
		{name: "other port same host", srv: open, method: "GET", path: "/peers", origin: "http://127.0.0.1:1", status: 403, code: "forbidden_origin"},
		{name: "rebound Host read", srv: open, method: "GET", path: "/peers", host: "attacker.example" + port, status: 403, code: "forbidden_host"},
		{name: "rebound Host no port", srv: open, method: "GET", path: "/bans", host: "attacker.example", status: 403, code: "forbidden_host"},
		{name: "rebound Host healthz", srv: open, method: "GET", path: "/healthz", host: "attacker.example", status: 403, code: "forbidden_host"},
		{name: "public IP Host", srv: open, method: "GET", path: "/peers", host: "192.0.2.1" + port, status: 403, code: "forbidden_host"},
		{name: "localhost suffix trick", srv: open, method: "GET", path: "/peers", host: "localhost.attacker.example" + port, status: 403, code: "forbidden_host"},
		{name: "rebound Host with token", srv: withToken, token: "tok", method: "GET", path: "/peers", host: "node.example" + port, status: 200},
		{name: "cross-site with token", srv: withToken, token: "tok", method: "GET", path: "/peers", origin: "http://evil.example", status: 403, code: "forbidden_origin"},
		{name: "text/plain with token", srv: withToken, token: "tok", method: "POST", path: "/bans", body: banBody, ctype: "text/plain", status: 415, code: "unsupported_media_type"},
		{name: "localhost Host", srv: open, method: "GET", path: "/peers", host: "localhost" + port, status: 200},
		{name: "IPv6 loopback Host", srv: open, method: "GET", path: "/peers", host: "[::1]" + port, status: 200},
		{name: "127/8 Host", srv: open, method: "GET", path: "/peers", host: "127.1.2.3", status: 200},
		{name: "same-origin read", srv: open, method: "GET", path: "/peers", origin: open.URL, status: 200},
		{name: "same-origin Sec-Fetch-Site", srv: open, method: "GET", path: "/peers", fetchSite: "same-origin", status: 200},
		{name: "direct navigation", srv: open, method: "GET", path: "/peers", fetchSite: "none", status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rd io.Reader
			if tc.body != "" {
				rd = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, tc.srv.URL+tc.path, rd)
			if err != nil {
				t.Fatal(err)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.fetchSite != "" {
				req.Header.Set("Sec-Fetch-Site", tc.fetchSite)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.code != "" {
				var e Error
				if err := json.Unmarshal(b, &e); err != nil || e.Code != tc.code || e.Message == "" {
					t.Fatalf("error body %s, want code %q", b, tc.code)
				}
			}
			if len(a.Bans()) != 0 || len(a.MustConnect()) != 0 {
				t.Fatalf("a refused request changed the node: bans %v, must-connect %v", a.Bans(), a.MustConnect())
			}
		})
	}
	// The CLI's own requests work: JSON (with a charset), no Origin.
	for _, ct := range []string{"application/json", "application/json; charset=utf-8"} {
		req, _ := http.NewRequest("POST", open.URL+"/bans", strings.NewReader(banBody))
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("JSON ban with %q: status %d", ct, resp.StatusCode)
		}
	}
	if len(a.Bans()) != 1 {
		t.Fatalf("bans %v", a.Bans())
	}
}
