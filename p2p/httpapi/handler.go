// Package httpapi is the admin HTTP API of a p2p.Node, as an http.Handler
// the user mounts in a server of their own.
//
//	GET    /peers             connected peers, {"count","peers"} (filter: ?role=validator|full|seed|light)
//	GET    /peers/{id}        one connected peer
//	POST   /peers             dial {"addr":"ID@host:port"} or add {"addr":...,"must_connect":true}
//	DELETE /peers/{id}        disconnect; the answer says whether it may be redialed (?must_connect=false
//	                          ends its must-connect status, ?forget=true also removes it from the book)
//	GET    /book              the peer book
//	DELETE /book/{id}         remove a book entry (bans stay)
//	GET    /bans              bans in force
//	POST   /bans              ban {"id":...} or {"ip":...} or {"prefix":"CIDR"}, with "duration":"1h","reason":...
//	DELETE /bans/{target}     lift a ban: a peer ID, an IP address or a CIDR prefix (/bans/192.0.2.0/24)
//	GET    /dht               the DHT: mode, counters, routing table ({"mode":"off"} when it is off)
//	GET    /healthz           health: 200 "ok", or 503 "degraded" with the problems; never behind the token
//	GET    /metrics           Prometheus text format, when Options.Metrics is set
//
// Every answer is JSON (except /metrics); errors are {"code","message"}
// with a matching status: 400 for a bad body, ID or parameter, 401 for a
// missing or wrong token, 403 for an address the filters refuse or a
// request a web page may have forged (below), 404 for an unknown peer, ban
// or path, 405 for a wrong method, 409 for a conflict (already connected,
// banned), 415 for a body that is not declared application/json, 502 when
// a dial fails, 503 when the node is stopped. GET /healthz answers 503
// too when the node is degraded: its body is then a Health whose
// "problems" say why.
//
// Web pages cannot drive the API: request bodies must be sent as
// Content-Type application/json; a request whose Origin is not the API's
// own, or whose Sec-Fetch-Site is cross-site or same-site, is refused
// (forbidden_origin); and without a token, a request whose Host is not
// localhost or a loopback address is refused (forbidden_host), which
// defeats DNS rebinding.
//
// The package does not import Prometheus: pass metrics.Handler(node) from
// github.com/peerwire/peerwire/p2p/metrics as Options.Metrics.
package httpapi

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/peerwire/peerwire/p2p"
)

// Limits of the API, with their units.
const (
	// MaxBodyBytes bounds a request body: the largest valid one is a ban
	// with a 256-byte reason.
	MaxBodyBytes = 16 << 10
	// DefaultDialTimeout bounds POST /peers when Options.DialTimeout is zero.
	DefaultDialTimeout = 15 * time.Second
	// MaxBanDuration is the longest ban POST /bans accepts.
	MaxBanDuration = p2p.MaxBanDuration
)

// Options configures the handler. The zero value serves every endpoint but
// /metrics without authentication.
type Options struct {
	// Token, if not empty, is required as "Authorization: Bearer <Token>"
	// on every request except GET /healthz. Compared in constant time.
	Token string
	// Metrics, if set, serves GET /metrics (e.g. metrics.Handler(node)).
	Metrics http.Handler
	// DialTimeout bounds a dial by POST /peers. Default DefaultDialTimeout.
	DialTimeout time.Duration
}

type api struct {
	n    *p2p.Node
	opts Options
}

// New returns the API over n. The handler is safe for concurrent use.
func New(n *p2p.Node, opts Options) http.Handler {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	a := &api{n: n, opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.health)
	mux.Handle("GET /peers", a.auth(a.listPeers))
	mux.Handle("POST /peers", a.auth(a.dial))
	mux.Handle("GET /peers/{id}", a.auth(a.getPeer))
	mux.Handle("DELETE /peers/{id}", a.auth(a.disconnect))
	mux.Handle("GET /book", a.auth(a.book))
	mux.Handle("DELETE /book/{id}", a.auth(a.bookRemove))
	mux.Handle("GET /bans", a.auth(a.listBans))
	mux.Handle("POST /bans", a.auth(a.ban))
	mux.Handle("DELETE /bans/{target...}", a.auth(a.unban))
	mux.Handle("GET /metrics", a.auth(a.metrics))
	mux.Handle("GET /dht", a.auth(a.dht))
	// Known paths with another method get a JSON 405; anything else a JSON 404.
	for path, allow := range map[string]string{
		"/healthz": "GET, HEAD", "/peers": "GET, HEAD, POST", "/peers/{id}": "GET, HEAD, DELETE",
		"/book": "GET, HEAD", "/bans": "GET, HEAD, POST", "/bans/{target...}": "DELETE", "/metrics": "GET, HEAD", "/dht": "GET, HEAD",
	} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+allow)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.URL.Path)
	})
	return a.browserGuard(mux)
}

// browserGuard refuses what a web page can make a browser send to an API
// on loopback: a request a page of another origin started (its Origin or
// Sec-Fetch-Site header says so), and, without a token, one whose Host is
// not a loopback name or address (a DNS name rebound to 127.0.0.1 by an
// attacker). Writes also need a JSON Content-Type (see decode), which no
// cross-site form or "simple" request can carry without a CORS preflight,
// and the API answers no preflight.
func (a *api) browserGuard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.opts.Token == "" && !isLoopbackHost(r.Host) {
			writeError(w, http.StatusForbidden, "forbidden_host",
				fmt.Sprintf("Host %q is not a loopback name or address; without a token the API answers only localhost, 127.0.0.0/8 and ::1", clip(r.Host)))
			return
		}
		if why := crossSite(r); why != "" {
			writeError(w, http.StatusForbidden, "forbidden_origin", why)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// isLoopbackHost reports whether a Host header (with or without a port)
// names "localhost" or a loopback IP address.
func isLoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// crossSite says why r came from a page of another origin, or "" when it
// did not: a Sec-Fetch-Site other than same-origin or none (direct
// navigation), or an Origin whose host and port are not the request's Host.
// Clients other than browsers send neither header.
func crossSite(r *http.Request) string {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return fmt.Sprintf("request from another site (Sec-Fetch-Site: %s) refused", clip(site))
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, r.Host) {
		return fmt.Sprintf("request from origin %q refused: only same-origin requests are served", clip(origin))
	}
	return ""
}

// auth wraps h with the bearer-token check when a token is configured.
func (a *api) auth(h http.HandlerFunc) http.Handler {
	if a.opts.Token == "" {
		return h
	}
	want := []byte(a.opts.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="peerwire"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "a valid \"Authorization: Bearer <token>\" header is required")
			return
		}
		h(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, Error{Code: code, Message: msg})
}

// decode checks that the body is declared as JSON (Content-Type
// application/json, parameters allowed) and reads one JSON object of at most MaxBodyBytes into v, refusing
// unknown fields and trailing data. It writes the error answer itself.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			fmt.Sprintf("Content-Type %q: a request body must be application/json", clip(r.Header.Get("Content-Type"))))
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data after the JSON object")
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is over %d bytes", MaxBodyBytes))
			return false
		}
		if errors.Is(err, io.EOF) {
			err = errors.New("empty body")
		}
		writeError(w, http.StatusBadRequest, "bad_body", "request body: "+err.Error())
		return false
	}
	return true
}

// pathID parses the {id} path value; it writes the error answer itself.
func pathID(w http.ResponseWriter, r *http.Request) (p2p.ID, bool) {
	id, err := p2p.ParseID(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_id", fmt.Sprintf("peer ID %q: want %d hex digits", clip(r.PathValue("id")), 2*p2p.IDLen))
		return p2p.ID{}, false
	}
	return id, true
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
