package httpapi

import "net/http"

func (a *api) health(w http.ResponseWriter, _ *http.Request) {
	st := a.n.Stats()
	h := Health{Status: "ok", ID: a.n.ID().String(), Inbound: st.Inbound, Outbound: st.Outbound}
	if l := a.n.ListenAddr(); !l.ID.IsZero() {
		h.Listen = l.String()
	}
	writeJSON(w, http.StatusOK, h)
}
