package peerset

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/peerwire/peerwire/crypto"
)

// Event is something the transport observed about a peer that moves its
// score by a configured delta (Config.EventDeltas, defaults from
// Event.DefaultDelta).
type Event uint8

const (
	// EventProtocolViolation: the peer broke the wire protocol.
	EventProtocolViolation Event = iota + 1
	// EventRateExceeded: the peer exceeded an inbound rate limit.
	EventRateExceeded
	// EventInvalidMessage: a gossip validator rejected the peer's message.
	EventInvalidMessage
	// EventBadPEX: an unsolicited, oversized or invalid PEX exchange.
	EventBadPEX
	// EventGoodPEX: a solicited PEX response that validated.
	EventGoodPEX
	// EventGoodMessage: a new gossip message the validator accepted.
	EventGoodMessage
	// EventCreditStall: the peer returned no credit on a topic we had
	// messages queued for, for longer than the credit-stall timeout, and
	// was disconnected (goaway "timeout").
	EventCreditStall

	numEvents = iota + 1
)

var eventNames = [numEvents]string{
	"",
	"protocol-violation",
	"rate-exceeded",
	"invalid-message",
	"bad-pex",
	"good-pex",
	"good-message",
	"credit-stall",
}

var defaultDeltas = [numEvents]float64{
	0,
	DeltaProtocolViolation,
	DeltaRateExceeded,
	DeltaInvalidMessage,
	DeltaBadPEX,
	DeltaGoodPEX,
	DeltaGoodMessage,
	DeltaCreditStall,
}

// String returns the event's stable label, e.g. "protocol-violation".
func (e Event) String() string {
	if e > 0 && int(e) < len(eventNames) {
		return eventNames[e]
	}
	return "event(" + strconv.Itoa(int(e)) + ")"
}

// DefaultDelta returns the score delta of e when Config.EventDeltas does
// not override it (the Delta constants), or 0 for an unknown event.
func (e Event) DefaultDelta() float64 {
	if int(e) < len(defaultDeltas) {
		return defaultDeltas[e]
	}
	return 0
}

// BanDecision is the outcome of a report that took a peer's score to the
// ban threshold. The Set has already written the ban to its BanList (Admit
// refuses the ID until Until) and removed the peer; the Node closes Peer's
// connection with ReasonLowReputation.
type BanDecision struct {
	// ID is the banned peer.
	ID crypto.ID
	// Until is when the ban ends.
	Until time.Time
	// Reason says why, for logs and the goaway text.
	Reason string
	// Score is the score that triggered the ban.
	Score float64
	// Peer is the connection to close, already removed from the Set; nil
	// when the peer was not connected.
	Peer *Peer
}

// Record moves id's score by the delta of event ev (an unknown event moves
// it by 0) and returns a ban decision when the score reached the
// threshold, else nil. The transport calls it; see Report.
func (s *Set) Record(id crypto.ID, ev Event) *BanDecision {
	var d float64
	if ev > 0 && ev < numEvents {
		d = s.cfg.deltas[ev]
	}
	return s.report(id, d, ev.String())
}

// Report moves id's score by delta (clamped to [MinScore, MaxScore]) for
// reason, which the application chooses (a NaN delta is ignored). The peer
// need not be connected: a recently seen ID has its score remembered
// (Config.ScoreMemory), and an unknown one starts at 0.
//
// When the score ends at or below Config.BanThreshold and the peer is not
// must-connect and not banned already, Report bans it in the BanList for
// Config.BanDuration (from Deps.Clock), removes it from the Set and returns
// the decision for the Node to apply. A must-connect peer's score is
// tracked but it is never banned or disconnected for it. Report does not
// allocate unless it bans. Safe for concurrent use.
func (s *Set) Report(id crypto.ID, delta float64, reason string) *BanDecision {
	return s.report(id, delta, reason)
}

func (s *Set) report(id crypto.ID, delta float64, reason string) *BanDecision {
	if id.IsZero() || id == s.cfg.self || math.IsNaN(delta) {
		return nil
	}
	now := s.cfg.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.mu.peers[id]
	var score float64
	if p != nil {
		p.score = snap(p.score + delta)
		score = p.score
	} else {
		score = snap(s.mu.memory.get(id) + delta)
		s.mu.memory.update(id, score)
	}
	if score > s.cfg.banThreshold || s.mu.must[id] != nil {
		return nil
	}
	if _, banned := s.bannedLocked(id, now); banned {
		return nil
	}
	b := &BanDecision{
		ID:     id,
		Until:  now.Add(s.cfg.banDuration),
		Reason: cut(fmt.Sprintf("score %.1f at or below %.1f after %s", score, s.cfg.banThreshold, reason), MaxReasonLen),
		Score:  score,
	}
	if s.cfg.bans != nil {
		if err := s.cfg.bans.Ban(id, s.cfg.banDuration, b.Reason); err != nil {
			// The peer is still disconnected; it may come back before the
			// ban would have ended.
			s.cfg.log.Warn("score ban not recorded", "peer", id.String(), "err", err)
		} else {
			s.rememberScoreBanLocked(id, b.Until, now)
		}
	}
	if p != nil {
		s.dropLocked(p, now)
		b.Peer = p
	}
	return b
}

// Score returns the current score of id, connected or remembered; ok is
// false when the Set knows no score for it (as good as 0).
func (s *Set) Score(id crypto.ID) (score float64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.mu.peers[id]; p != nil {
		return p.score, true
	}
	if e, ok := s.mu.memory.m[id]; ok {
		return e.score, true
	}
	return 0, false
}

// Decay moves every score toward 0 for the time elapsed since the previous
// call (or New): a score halves every Config.DecayHalfLife, and one within
// 0.01 of neutral becomes 0 and is forgotten if its peer is disconnected.
// It also forgets expired score bans. The Node calls it from a timer (every
// DecayInterval); the result does not depend on how often. A now not after
// the previous one does nothing. Safe for concurrent use.
func (s *Set) Decay(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dt := now.Sub(s.mu.lastDecay)
	if dt <= 0 {
		return
	}
	s.mu.lastDecay = now
	f := math.Exp2(-float64(dt) / float64(s.cfg.halfLife))
	for _, p := range s.mu.peers {
		p.score = snap(p.score * f)
	}
	s.mu.memory.scale(f)
	for id, until := range s.mu.scoreBans {
		if !until.After(now) {
			delete(s.mu.scoreBans, id)
		}
	}
}

// Ban bans id for d with reason (cut to MaxReasonLen bytes) in the
// BanList, which bounds d (0 < d <= its MaxBanDuration) and never shortens
// a ban in force: Admit refuses it and DueRedials skips it until the ban
// ends. Unlike a score ban it applies to must-connect peers too: it is the
// operator's (or the Node's) explicit decision. When id is connected, the
// Peer is removed and returned for the Node to close with ReasonBanned.
// When the BanList refuses the ban, Ban returns its error and changes
// nothing. Safe for concurrent use.
func (s *Set) Ban(id crypto.ID, d time.Duration, reason string) (*Peer, error) {
	if id.IsZero() || id == s.cfg.self {
		return nil, errors.New("peerset: cannot ban the zero ID or this node")
	}
	if s.cfg.bans == nil {
		return nil, errNoBanList
	}
	now := s.cfg.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.cfg.bans.Ban(id, d, cut(reason, MaxReasonLen)); err != nil {
		return nil, err
	}
	delete(s.mu.scoreBans, id) // the operator's now: AddMustConnect keeps it
	p := s.mu.peers[id]
	if p != nil {
		s.dropLocked(p, now)
	}
	return p, nil
}

// Unban lifts a ban on id in the BanList and reports whether there was
// one. Safe for concurrent use.
func (s *Set) Unban(id crypto.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.scoreBans, id)
	return s.cfg.bans != nil && s.cfg.bans.Unban(id)
}

// Banned reports whether the BanList has id banned, and until when. now is
// unused: the BanList judges by its own clock (the Node's). Safe for
// concurrent use.
func (s *Set) Banned(id crypto.ID, now time.Time) (until time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bannedLocked(id, now)
}

// rememberScoreBanLocked notes that the Set banned id for its score until
// until, so that AddMustConnect lifts that ban. At MaxScoreBans it forgets
// expired entries, then the one ending first.
func (s *Set) rememberScoreBanLocked(id crypto.ID, until, now time.Time) {
	m := s.mu.scoreBans
	if _, ok := m[id]; !ok && len(m) >= MaxScoreBans {
		var first crypto.ID
		var firstUntil time.Time
		for k, v := range m {
			if !v.After(now) {
				delete(m, k)
			} else if firstUntil.IsZero() || v.Before(firstUntil) {
				first, firstUntil = k, v
			}
		}
		if len(m) >= MaxScoreBans {
			delete(m, first)
		}
	}
	m[id] = until
}

// cut shortens s to at most n bytes at a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
