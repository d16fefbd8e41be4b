package peerset

import (
	"errors"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

// BanList is the store of bans the Set asks and writes; the Node gives it
// the peer book (*peerbook.Book), the one owner of bans. The Set keeps no
// ban of its own: Admit, CheckDial and the redial schedule ask BannedUntil,
// and Set.Ban and score bans write through Ban. The Set calls every method
// with its own lock held, so an implementation must be safe for concurrent
// use, must not block on I/O, and must never call back into the Set.
type BanList interface {
	// BannedUntil reports whether id is banned now, by the list's own
	// clock, and when that ban ends. An expired ban is not in force.
	BannedUntil(id crypto.ID) (until time.Time, banned bool)

	// Ban bans id for d with reason, never shortening a ban in force. It
	// returns an error, and records nothing, when d is outside
	// (0, MaxBanDuration()] or the list is full; the Set passes that error
	// on (Set.Ban) or, for a score ban, still disconnects the peer.
	Ban(id crypto.ID, d time.Duration, reason string) error

	// Unban lifts the ban on id and reports whether there was one in force.
	Unban(id crypto.ID) bool

	// MaxBanDuration is the longest ban Ban accepts: the one cap that
	// bounds Config.BanDuration too. It is a constant of the list.
	MaxBanDuration() time.Duration
}

// errNoBanList is returned by Set.Ban when the Config has no BanList.
var errNoBanList = errors.New("peerset: no ban list (Deps.Bans is nil)")

// bannedLocked reports whether id is banned at now, and until when: the
// BanList has it banned (by its clock, the Node's) until after now.
// Without a BanList nothing is.
func (s *Set) bannedLocked(id crypto.ID, now time.Time) (time.Time, bool) {
	if s.cfg.bans == nil {
		return time.Time{}, false
	}
	until, ok := s.cfg.bans.BannedUntil(id)
	if !ok || !until.After(now) {
		return time.Time{}, false
	}
	return until, true
}
