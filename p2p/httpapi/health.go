package httpapi

// GET /healthz: whether the node works, for load balancers and monitors.

import (
	"net/http"
	"time"

	"github.com/peerwire/peerwire/p2p"
)

// health answers 200 when the node is healthy and 503 when p2p.Node.Health
// finds a problem (not running, no peers for Config.NoPeersWarn, a book
// that does not save), with the problems in the body.
func (a *api) health(w http.ResponseWriter, _ *http.Request) {
	st := a.n.Stats()
	nh := a.n.Health()
	h := Health{Status: "ok", ID: a.n.ID().String(), Inbound: st.Inbound, Outbound: st.Outbound,
		NoPeersSince: timePtr(nh.NoPeersSince), Book: healthBook(nh), Problems: []Error{}}
	if l := a.n.ListenAddr(); !l.ID.IsZero() {
		h.Listen = l.String()
	}
	h.Advertise = []string{}
	for _, ad := range a.n.AdvertisedAddrs() {
		h.Advertise = append(h.Advertise, ad.String())
	}
	h.ObservedAddrs = []string{}
	for _, o := range a.n.ObservedAddrs() { // one read: Observed is its first
		h.ObservedAddrs = append(h.ObservedAddrs, o.String())
	}
	if len(h.ObservedAddrs) > 0 {
		h.Observed = h.ObservedAddrs[0]
	}
	r := a.n.Reachability()
	h.Reachability, h.Verified, h.ReachabilityChecked = r.Verdict.String(), []string{}, timePtr(r.Checked)
	for _, ad := range r.Verified {
		h.Verified = append(h.Verified, ad.String())
	}
	status := http.StatusOK
	if nh.Degraded() {
		h.Status, status = "degraded", http.StatusServiceUnavailable
		for _, p := range nh.Problems {
			h.Problems = append(h.Problems, Error{Code: p.Code, Message: p.Message})
		}
	}
	writeJSON(w, status, h)
}

func healthBook(nh p2p.Health) HealthBook {
	b := HealthBook{LastSaved: timePtr(nh.Book.LastSaved), Failures: nh.Book.Failures, FailingSince: timePtr(nh.Book.FailingSince)}
	if nh.Book.LastError != nil {
		b.LastError = nh.Book.LastError.Error()
	}
	return b
}

// timePtr is t, or nil for the zero time (omitted from the JSON).
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
