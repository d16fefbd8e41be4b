package httpapi

// The /book, /bans and /metrics endpoints.

import (
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/peerwire/peerwire/p2p"
)

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
		id     p2p.ID
		prefix netip.Prefix
		err    error
	)
	switch {
	case req.ID != "":
		if id, err = p2p.ParseID(req.ID); err != nil || id.IsZero() {
			writeError(w, http.StatusBadRequest, "bad_id", fmt.Sprintf(`"id" %q: want %d hex digits, not all zero`, clip(req.ID), 2*p2p.IDLen))
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
	if id, err := p2p.ParseID(target); err == nil {
		if !a.n.Unban(id) {
			writeError(w, http.StatusNotFound, "not_banned", "no ban on "+id.String())
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	p, err := p2p.ParseBanPrefix(target)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_target", fmt.Sprintf("%q: want a peer ID (%d hex digits), an IP address or a CIDR prefix", clip(target), 2*p2p.IDLen))
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
