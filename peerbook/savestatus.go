package peerbook

import (
	"sync"
	"time"
)

// SaveStatus is how the book's saves to its file have gone, for a health
// check: a book that keeps failing to save loses what it learned since the
// last good save when the process ends.
type SaveStatus struct {
	// LastSaved is when the last save succeeded (zero: none yet; a book
	// opened from its file has not saved until it changes).
	LastSaved time.Time
	// LastError is the error of the latest save attempt, nil when it
	// succeeded (or none was tried).
	LastError error
	// FailingSince is when the current run of failed saves began; zero
	// when the latest save succeeded.
	FailingSince time.Time
	// Failures counts the failed saves in a row; a success resets it.
	Failures int
}

// saveStatus is the book's SaveStatus, behind its own lock so that a health
// check never waits for a save's fsync.
type saveStatus struct {
	mu sync.Mutex
	st SaveStatus
}

// note records the outcome of one save attempt at now.
func (s *saveStatus) note(err error, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.st = SaveStatus{LastSaved: now}
		return
	}
	if s.st.Failures == 0 {
		s.st.FailingSince = now
	}
	s.st.Failures++
	s.st.LastError = err
}

// SaveStatus reports how the book's saves have gone: every save counts,
// Run's periodic ones, Save and the one Close makes. A book made by New
// (no file) reports the zero SaveStatus.
func (b *Book) SaveStatus() SaveStatus {
	b.saveSt.mu.Lock()
	defer b.saveSt.mu.Unlock()
	return b.saveSt.st
}
