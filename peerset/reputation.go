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
// ban threshold. The Set has already recorded the ban (Admit refuses the ID
// until Until) and removed the peer; the Node closes Peer's connection with
// ReasonLowReputation and bans the ID in its book.
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

type ban struct {
	until  time.Time
	reason string
	auto   bool // from the score, not from Set.Ban
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
// must-connect and not banned already, Report bans it for
// Config.BanDuration (from Config.Now), removes it from the Set and returns
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
	s.addBanLocked(id, ban{until: b.Until, reason: b.Reason, auto: true}, now)
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
// It also drops expired bans. The Node calls it from a timer (every
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
	for id, b := range s.mu.bans {
		if !b.until.After(now) {
			delete(s.mu.bans, id)
		}
	}
}

// Ban bans id for d (0 < d <= MaxBanDuration) with reason (cut to
// MaxReasonLen bytes): Admit refuses it and DueRedials skips it until the
// ban ends. A ban never shortens one in force. Unlike a score ban it
// applies to must-connect peers too: it is the operator's (or the Node's)
// explicit decision. When id is connected, the Peer is removed and
// returned for the Node to close with ReasonBanned. Safe for concurrent
// use.
func (s *Set) Ban(id crypto.ID, d time.Duration, reason string) (*Peer, error) {
	if id.IsZero() || id == s.cfg.self {
		return nil, errors.New("peerset: cannot ban the zero ID or this node")
	}
	if d <= 0 || d > MaxBanDuration {
		return nil, fmt.Errorf("peerset: ban duration %v is outside (0, %v]", d, MaxBanDuration)
	}
	now := s.cfg.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addBanLocked(id, ban{until: now.Add(d), reason: cut(reason, MaxReasonLen)}, now)
	p := s.mu.peers[id]
	if p != nil {
		s.dropLocked(p, now)
	}
	return p, nil
}

// Unban lifts a ban on id and reports whether there was one. Safe for
// concurrent use.
func (s *Set) Unban(id crypto.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.mu.bans[id]
	delete(s.mu.bans, id)
	return ok
}

// Banned reports whether id is banned at now, and until when. Safe for
// concurrent use.
func (s *Set) Banned(id crypto.ID, now time.Time) (until time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bannedLocked(id, now)
	return b.until, ok
}

// bannedLocked returns the ban on id in force at now, dropping an expired one.
func (s *Set) bannedLocked(id crypto.ID, now time.Time) (ban, bool) {
	b, ok := s.mu.bans[id]
	if !ok {
		return ban{}, false
	}
	if !b.until.After(now) {
		delete(s.mu.bans, id)
		return ban{}, false
	}
	return b, true
}

// addBanLocked records b on id, never shortening a ban in force. At MaxBans
// it drops expired bans, then the one ending first if that ends before b.
func (s *Set) addBanLocked(id crypto.ID, b ban, now time.Time) {
	bans := s.mu.bans
	if old, ok := bans[id]; ok {
		if old.until.After(b.until) {
			b.until = old.until
		}
		b.auto = b.auto && old.auto
		bans[id] = b
		return
	}
	if len(bans) >= MaxBans {
		var first crypto.ID
		var firstUntil time.Time
		for k, v := range bans {
			if !v.until.After(now) {
				delete(bans, k)
			} else if firstUntil.IsZero() || v.until.Before(firstUntil) {
				first, firstUntil = k, v.until
			}
		}
		if len(bans) >= MaxBans {
			if !firstUntil.Before(b.until) {
				return // every ban in force outlasts this one
			}
			delete(bans, first)
		}
	}
	bans[id] = b
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
