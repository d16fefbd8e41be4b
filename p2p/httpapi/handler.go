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
//	GET    /healthz           liveness, never behind the token
//	GET    /metrics           Prometheus text format, when Options.Metrics is set
//
// Every answer is JSON (except /metrics); errors are {"code","message"}
// with a matching status: 400 for a bad body, ID or parameter, 401 for a
// missing or wrong token, 403 for an address the filters refuse or a
// request a web page may have forged (below), 404 for an unknown peer, ban
// or path, 405 for a wrong method, 409 for a conflict (already connected,
// banned), 415 for a body that is not declared application/json, 502 when
// a dial fails, 503 when the node is stopped.
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
	"context"
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

	"github.com/peerwire/peerwire/crypto"
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
	// Known paths with another method get a JSON 405; anything else a JSON 404.
	for path, allow := range map[string]string{
		"/healthz": "GET, HEAD", "/peers": "GET, HEAD, POST", "/peers/{id}": "GET, HEAD, DELETE",
		"/book": "GET, HEAD", "/bans": "GET, HEAD, POST", "/bans/{target...}": "DELETE", "/metrics": "GET, HEAD",
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
func pathID(w http.ResponseWriter, r *http.Request) (crypto.ID, bool) {
	id, err := crypto.ParseID(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_id", fmt.Sprintf("peer ID %q: want %d hex digits", clip(r.PathValue("id")), 2*crypto.IDLen))
		return crypto.ID{}, false
	}
	return id, true
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func (a *api) health(w http.ResponseWriter, _ *http.Request) {
	st := a.n.Stats()
	h := Health{Status: "ok", ID: a.n.ID().String(), Inbound: st.Inbound, Outbound: st.Outbound}
	if l := a.n.ListenAddr(); !l.ID.IsZero() {
		h.Listen = l.String()
	}
	h.Advertise = []string{}
	for _, ad := range a.n.AdvertisedAddrs() {
		h.Advertise = append(h.Advertise, ad.String())
	}
	if o := a.n.ObservedAddr(); o.Addr().IsValid() {
		h.Observed = o.String()
	}
	writeJSON(w, http.StatusOK, h)
}

var roles = map[string]bool{"validator": true, "full": true, "seed": true, "light": true, "unspecified": true}

func (a *api) listPeers(w http.ResponseWriter, r *http.Request) {
	role := strings.ToLower(r.URL.Query().Get("role"))
	if role != "" && !roles[role] {
		writeError(w, http.StatusBadRequest, "bad_role", fmt.Sprintf("role %q: want validator, full, seed, light or unspecified", clip(role)))
		return
	}
	out := PeerList{Peers: []Peer{}}
	for _, p := range a.n.Peers() {
		if role == "" || roleName(p.Role) == role {
			out.Peers = append(out.Peers, peerJSON(p))
		}
	}
	out.Count = len(out.Peers)
	writeJSON(w, http.StatusOK, out)
}

func (a *api) getPeer(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	p, ok := a.n.Peer(id)
	if !ok {
		writeError(w, http.StatusNotFound, "unknown_peer", "no connected peer "+id.String())
		return
	}
	writeJSON(w, http.StatusOK, peerJSON(p))
}

func (a *api) dial(w http.ResponseWriter, r *http.Request) {
	var req DialRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Addr == "" {
		writeError(w, http.StatusBadRequest, "bad_body", `"addr" is required`)
		return
	}
	if req.MustConnect {
		addr, err := crypto.ParseAddress(req.Addr)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_addr", err.Error()+" (a must-connect peer needs its ID)")
			return
		}
		if addr.ID == a.n.ID() {
			writeError(w, http.StatusBadRequest, "self", "that is this node's own ID")
			return
		}
		if err := a.n.AddMustConnect(req.Addr); err != nil {
			writeNodeError(w, err)
			return
		}
		_, connected := a.n.Peer(addr.ID)
		writeJSON(w, http.StatusAccepted, DialResponse{ID: addr.ID.String(), MustConnect: true, Connected: connected})
		return
	}
	addr, err := crypto.ParseDialAddress(req.Addr)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_addr", err.Error())
		return
	}
	if addr.ID == a.n.ID() {
		writeError(w, http.StatusBadRequest, "self", "that is this node's own ID")
		return
	}
	if _, ok := a.n.Peer(addr.ID); ok && !addr.ID.IsZero() {
		writeError(w, http.StatusConflict, "already_connected", "already connected to "+addr.ID.String())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.DialTimeout)
	defer cancel()
	id, err := a.n.Dial(ctx, req.Addr)
	if err != nil {
		writeNodeError(w, err)
		return
	}
	p, connected := a.n.Peer(id)
	writeJSON(w, http.StatusCreated, DialResponse{ID: id.String(), MustConnect: p.MustConnect, Connected: connected})
}

// writeNodeError maps the node's errors to statuses.
func writeNodeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, p2p.ErrConnected):
		writeError(w, http.StatusConflict, "already_connected", err.Error())
	case errors.Is(err, p2p.ErrDialing):
		writeError(w, http.StatusConflict, "already_dialing", err.Error())
	case errors.Is(err, p2p.ErrBanned):
		writeError(w, http.StatusConflict, "banned", err.Error())
	case errors.Is(err, p2p.ErrFiltered):
		writeError(w, http.StatusForbidden, "filtered", err.Error())
	case errors.Is(err, p2p.ErrRefused):
		writeError(w, http.StatusConflict, "refused", err.Error())
	case errors.Is(err, p2p.ErrUnknownPeer):
		writeError(w, http.StatusNotFound, "unknown_peer", err.Error())
	case errors.Is(err, p2p.ErrSelf):
		writeError(w, http.StatusBadRequest, "self", err.Error())
	case errors.Is(err, p2p.ErrTooManyBans), errors.Is(err, p2p.ErrTooManyProtected):
		writeError(w, http.StatusConflict, "limit", err.Error())
	case errors.Is(err, p2p.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "stopped", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "timeout", err.Error())
	default:
		writeError(w, http.StatusBadGateway, "dial_failed", err.Error())
	}
}

func (a *api) disconnect(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	keepMust, ok := boolParam(w, r, "must_connect", true)
	if !ok {
		return
	}
	forget, ok := boolParam(w, r, "forget", false)
	if !ok {
		return
	}
	if forget {
		keepMust = false // a forgotten peer is no must-connect peer either
	}
	wasMust := false
	if !keepMust {
		wasMust = a.n.RemoveMustConnect(id)
	}
	err := a.n.Disconnect(id, "disconnected by operator")
	if err != nil && !(errors.Is(err, p2p.ErrUnknownPeer) && (wasMust || forget)) {
		writeNodeError(w, err)
		return
	}
	resp := DisconnectResponse{ID: id.String(), Disconnected: err == nil}
	if forget {
		resp.Forgotten = a.n.RemoveFromBook(id)
	}
	for _, m := range a.n.MustConnect() {
		if m.ID == id {
			resp.MustConnect = true
		}
	}
	switch {
	case resp.MustConnect:
		resp.MayRedial = true
		resp.Note = "a must-connect peer is redialed at once; add ?must_connect=false to stop that, or ban it"
	case forget:
		resp.Note = "removed from the book; it can be learned again from other peers or reconnect itself: ban it to keep it out"
	default:
		resp.MayRedial = true
		resp.Note = "still in the book, so it may be redialed and may reconnect; add ?forget=true to remove it from the book, or ban it"
	}
	writeJSON(w, http.StatusOK, resp)
}

// boolParam reads an optional true/false query parameter.
func boolParam(w http.ResponseWriter, r *http.Request, name string, def bool) (bool, bool) {
	switch v := r.URL.Query().Get(name); v {
	case "":
		return def, true
	case "true":
		return true, true
	case "false":
		return false, true
	default:
		writeError(w, http.StatusBadRequest, "bad_parameter", fmt.Sprintf("%s=%q: want true or false", name, clip(v)))
		return false, false
	}
}

func (a *api) bookRemove(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if !a.n.RemoveFromBook(id) {
		writeError(w, http.StatusNotFound, "unknown_peer", "no book entry for "+id.String())
		return
	}
	writeJSON(w, http.StatusOK, BookRemoveResponse{ID: id.String(), Removed: true})
}

func (a *api) book(w http.ResponseWriter, _ *http.Request) {
	out := []BookEntry{}
	for _, e := range a.n.BookEntries() {
		out = append(out, bookJSON(e))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) listBans(w http.ResponseWriter, _ *http.Request) {
	out := []Ban{}
	for _, b := range a.n.Bans() {
		out = append(out, banJSON(b))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) ban(w http.ResponseWriter, r *http.Request) {
	var req BanRequest
	if !decode(w, r, &req) {
		return
	}
	given := 0
	for _, f := range []string{req.ID, req.IP, req.Prefix} {
		if f != "" {
			given++
		}
	}
	if given != 1 {
		writeError(w, http.StatusBadRequest, "bad_target", `give exactly one of "id", "ip" and "prefix"`)
		return
	}
	var (
		id     crypto.ID
		prefix netip.Prefix
		err    error
	)
	switch {
	case req.ID != "":
		if id, err = crypto.ParseID(req.ID); err != nil || id.IsZero() {
			writeError(w, http.StatusBadRequest, "bad_id", fmt.Sprintf(`"id" %q: want %d hex digits, not all zero`, clip(req.ID), 2*crypto.IDLen))
			return
		}
		if id == a.n.ID() {
			writeError(w, http.StatusBadRequest, "self", "that is this node's own ID")
			return
		}
	case req.IP != "":
		ip, perr := netip.ParseAddr(req.IP)
		if perr == nil {
			prefix, err = p2p.NormPrefix(netip.PrefixFrom(ip, ip.BitLen()))
		}
		if perr != nil || err != nil {
			writeError(w, http.StatusBadRequest, "bad_ip", fmt.Sprintf(`"ip" %q: want an IPv4 or IPv6 address`, clip(req.IP)))
			return
		}
	default:
		p, perr := netip.ParsePrefix(req.Prefix)
		if perr == nil {
			p, perr = p2p.NormPrefix(p)
		}
		if perr != nil {
			writeError(w, http.StatusBadRequest, "bad_prefix", fmt.Sprintf(`"prefix" %q: want a CIDR prefix, at least /%d for IPv4 and /%d for IPv6`,
				clip(req.Prefix), p2p.MinBanPrefixBits4, p2p.MinBanPrefixBits6))
			return
		}
		prefix = p
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil || d <= 0 || d > MaxBanDuration {
		writeError(w, http.StatusBadRequest, "bad_duration", fmt.Sprintf(`"duration" %q: want a Go duration in (0, %v], e.g. "1h"`, clip(req.Duration), MaxBanDuration))
		return
	}
	if len(req.Reason) > 256 {
		writeError(w, http.StatusBadRequest, "bad_reason", `"reason" is over 256 bytes`)
		return
	}
	if req.Reason == "" {
		req.Reason = "banned by operator"
	}
	if prefix.IsValid() {
		err = a.n.BanIP(prefix, d, req.Reason)
	} else {
		err = a.n.Ban(id, d, req.Reason)
	}
	if err != nil {
		writeNodeError(w, err)
		return
	}
	for _, b := range a.n.Bans() {
		if prefix.IsValid() && b.Prefix == prefix || !prefix.IsValid() && b.ID == id {
			writeJSON(w, http.StatusCreated, banJSON(b))
			return
		}
	}
	writeJSON(w, http.StatusCreated, banJSON(p2p.Ban{ID: id, Prefix: prefix, Reason: req.Reason}))
}

// unban lifts the ban named by the rest of the path: a peer ID, an IP
// address, or a CIDR prefix (DELETE /bans/192.0.2.0/24).
func (a *api) unban(w http.ResponseWriter, r *http.Request) {
	target := r.PathValue("target")
	if id, err := crypto.ParseID(target); err == nil {
		if !a.n.Unban(id) {
			writeError(w, http.StatusNotFound, "not_banned", "no ban on "+id.String())
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	p, err := p2p.ParseBanPrefix(target)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_target", fmt.Sprintf("%q: want a peer ID (%d hex digits), an IP address or a CIDR prefix", clip(target), 2*crypto.IDLen))
		return
	}
	if !a.n.UnbanIP(p) {
		writeError(w, http.StatusNotFound, "not_banned", "no ban on "+p.String())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) metrics(w http.ResponseWriter, r *http.Request) {
	if a.opts.Metrics == nil {
		writeError(w, http.StatusNotFound, "metrics_disabled", "metrics are not enabled on this handler")
		return
	}
	a.opts.Metrics.ServeHTTP(w, r)
}
