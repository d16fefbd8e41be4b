package filter

import "time"

// Stats is a snapshot of a Filter's counters for metrics. Counters only
// grow; the other fields are current values.
type Stats struct {
	// Decisions counts Check results: Decisions[dir][reason].
	Decisions [numDirections][numReasons]uint64
	// RulesDecisions counts CheckRules results by reason.
	RulesDecisions [numReasons]uint64
	// Refused counts Acquire refusals by reason (ReasonIPCap,
	// ReasonSubnetCap, ReasonInvalidAddress).
	Refused [numReasons]uint64

	// Connected is the number of peers counted by Acquire and
	// AcquireExempt and not yet released; ConnectedIPs and
	// ConnectedSubnets are the distinct addresses and subnets among them.
	Connected, ConnectedIPs, ConnectedSubnets int

	// ThrottleTracked is the number of addresses the attempt throttle
	// tracks; ThrottleSwept counts idle entries dropped to make room and
	// ThrottleEvicted busy entries dropped because the table was full.
	ThrottleTracked                int
	ThrottleSwept, ThrottleEvicted uint64

	// DBType is the loaded database's type (e.g. "GeoLite2-Country") and
	// DBBuilt its build time; both are zero without a database.
	DBType  string
	DBBuilt time.Time
	// DBLookups counts database lookups (country cache misses) and
	// DBLookupErrors those that failed, for the loaded database.
	DBLookups, DBLookupErrors uint64
	// Reloads counts successful reloads after the first load;
	// ReloadErrors counts failed ones.
	Reloads, ReloadErrors uint64
}

// Count returns s.Decisions[dir][r], or 0 for values out of range.
func (s Stats) Count(dir Direction, r Reason) uint64 {
	if dir >= numDirections || r >= numReasons {
		return 0
	}
	return s.Decisions[dir][r]
}

// Stats returns a snapshot of the counters. Safe for concurrent use; the
// counters are read one by one, so the snapshot is not atomic as a whole.
func (f *Filter) Stats() Stats {
	var s Stats
	for d := range f.decisions {
		for r := range f.decisions[d] {
			s.Decisions[d][r] = f.decisions[d][r].Load()
		}
	}
	for r := range f.rulesDecisions {
		s.RulesDecisions[r] = f.rulesDecisions[r].Load()
		s.Refused[r] = f.refused[r].Load()
	}
	s.Connected, s.ConnectedIPs, s.ConnectedSubnets = f.counts.stats()
	if f.throttle != nil {
		s.ThrottleTracked, s.ThrottleSwept, s.ThrottleEvicted = f.throttle.stats()
	}
	if db := f.geo.Load(); db != nil {
		// The fields read here are immutable or atomic, so no reference
		// is needed: the reader itself is not touched.
		s.DBType, s.DBBuilt = db.dbType, db.builtAt
		s.DBLookups, s.DBLookupErrors = db.lookups.Load(), db.lookupErrors.Load()
	}
	s.Reloads, s.ReloadErrors = f.reloads.Load(), f.reloadErrors.Load()
	return s
}
