package httpapi

import (
	"net/http"
	"time"
)

// DHT is the answer of GET /dht: the node's DHT state, counters and
// routing table.
type DHT struct {
	// Mode is "off", "client" or "server" (auto resolved).
	Mode           string     `json:"mode"`
	Seq            uint64     `json:"seq,omitempty"`
	Entries        int        `json:"entries"`
	Replacements   int        `json:"replacements"`
	Buckets        int        `json:"buckets"`
	Depth          int        `json:"depth"`
	Refused        uint64     `json:"refused_by_diversity"`
	Candidates     int        `json:"candidates"`
	Lookups        uint64     `json:"lookups"`
	LookupFailures uint64     `json:"lookup_failures"`
	Queries        uint64     `json:"queries"`
	QueryFailures  uint64     `json:"query_failures"`
	Served         uint64     `json:"served"`
	BadRequests    uint64     `json:"bad_requests"`
	TransientDials uint64     `json:"transient_dials"`
	BookAdded      uint64     `json:"book_added"`
	Table          []DHTEntry `json:"table"`
}

// DHTEntry is one routing-table entry.
type DHTEntry struct {
	ID       string    `json:"id"`
	Addr     string    `json:"addr"`
	Seq      uint64    `json:"seq"`
	Bucket   int       `json:"bucket"`
	LastSeen time.Time `json:"last_seen"`
	Fails    int       `json:"fails,omitempty"`
}

func (a *api) dht(w http.ResponseWriter, _ *http.Request) {
	st := a.n.DHTStats()
	out := DHT{Mode: st.Mode, Seq: st.Seq, Entries: st.Table.Entries, Replacements: st.Table.Replacements,
		Buckets: st.Table.Buckets, Depth: st.Table.Depth, Refused: st.Table.Refused, Candidates: st.Candidates,
		Lookups: st.Lookups, LookupFailures: st.LookupFailures, Queries: st.Queries, QueryFailures: st.QueryFailures,
		Served: st.Served, BadRequests: st.BadRequests, TransientDials: st.TransientDials, BookAdded: st.BookAdded,
		Table: []DHTEntry{}}
	if d := a.n.DHT(); d != nil {
		for _, c := range d.Table().Entries() {
			out.Table = append(out.Table, DHTEntry{ID: c.ID().String(), Addr: c.Addr.String(), Seq: c.Record.Seq,
				Bucket: d.Bucket(c.ID()), LastSeen: c.LastSeen.UTC(), Fails: c.Fails})
		}
	}
	writeJSON(w, http.StatusOK, out)
}
