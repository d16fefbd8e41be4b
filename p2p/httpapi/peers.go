package httpapi

// The /peers endpoints: list, look up, dial and disconnect connected peers.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/peerwire/peerwire/p2p"
)

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
		addr, err := p2p.ParseAddress(req.Addr)
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
	addr, err := p2p.ParseDialAddress(req.Addr)
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
