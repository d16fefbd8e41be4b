package p2p

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/peerwire/peerwire/conn/mux"
	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/peerbook"
)

// Health is the node's own view of whether it works, for a health check
// such as the admin API's GET /healthz.
type Health struct {
	// Peers is the number of connected peers.
	Peers int
	// NoPeersSince is when the node was last left without a peer (or
	// started without one); zero while a peer is connected.
	NoPeersSince time.Time
	// Book is how the peer book's saves have gone; the zero value for a
	// node without a data directory.
	Book peerbook.SaveStatus
	// Problems says what is wrong, one entry each; empty when the node is
	// healthy.
	Problems []Problem
}

// Problem is one reason a node is degraded.
type Problem struct {
	// Code is stable, for scripts: ProblemNotRunning, ProblemNoPeers or
	// ProblemBookNotSaving.
	Code string
	// Message says it in words, with the figures.
	Message string
}

// The codes of Problem.
const (
	// ProblemNotRunning: the node is not started, or is stopped.
	ProblemNotRunning = "not_running"
	// ProblemNoPeers: no peer has been connected for Config.NoPeersWarn.
	ProblemNoPeers = "no_peers"
	// ProblemBookNotSaving: the latest save of the peer book failed.
	ProblemBookNotSaving = "book_not_saving"
)

// Degraded reports whether h lists any problem.
func (h Health) Degraded() bool { return len(h.Problems) > 0 }

// healthState is what the node tracks for Health and its warnings.
type healthState struct {
	mu           sync.Mutex
	noPeersSince time.Time // zero while a peer is connected
	warnedAt     time.Time // the last no-peers warning, zero: none in this spell
	dialWarns    map[string]dialWarn
}

// dialWarn is the rate limit of the warnings about one address.
type dialWarn struct {
	at         time.Time // the last warning
	suppressed int       // failures since, not logged at WARN
}

// Health reports whether the node works: it is running, it has had a peer
// within Config.NoPeersWarn, and its peer book saves.
func (n *Node) Health() Health {
	now := n.s.Now()
	h := Health{Peers: n.peerCount(), Book: n.book.SaveStatus()}
	n.health.mu.Lock()
	h.NoPeersSince = n.health.noPeersSince
	n.health.mu.Unlock()
	if n.state.Load() != 1 {
		h.Problems = append(h.Problems, Problem{ProblemNotRunning, "the node is not running"})
	} else if since := h.NoPeersSince; !since.IsZero() && n.s.NoPeersWarn > 0 && now.Sub(since) >= n.s.NoPeersWarn {
		h.Problems = append(h.Problems, Problem{ProblemNoPeers,
			fmt.Sprintf("no peers for %v (since %s)", now.Sub(since).Round(time.Second), since.UTC().Format(time.RFC3339))})
	}
	if b := h.Book; b.LastError != nil {
		h.Problems = append(h.Problems, Problem{ProblemBookNotSaving,
			fmt.Sprintf("peer book not saving: %d failed saves in a row since %s: %v",
				b.Failures, b.FailingSince.UTC().Format(time.RFC3339), b.LastError)})
	}
	return h
}

func (n *Node) peerCount() int {
	c := n.set.Counts()
	return c.Inbound + c.Outbound
}

// startHealth starts the clock of the no-peers warning (the node starts
// with none) and the goroutine that checks it.
func (n *Node) startHealth() {
	n.health.mu.Lock()
	if n.peerCount() == 0 {
		n.health.noPeersSince = n.s.Now()
	}
	n.health.mu.Unlock()
	if n.s.NoPeersWarn <= 0 {
		return
	}
	every := min(healthCheckEvery, max(n.s.NoPeersWarn/2, time.Millisecond))
	if n.s.healthEvery > 0 {
		every = n.s.healthEvery
	}
	n.every("health", every, n.checkNoPeers, true)
}

// checkNoPeers logs a warning when the node has had no peers for
// NoPeersWarn, and again every NoPeersWarn while that lasts.
func (n *Node) checkNoPeers() {
	now := n.s.Now()
	n.health.mu.Lock()
	since, last := n.health.noPeersSince, n.health.warnedAt
	due := !since.IsZero() && now.Sub(since) >= n.s.NoPeersWarn &&
		(last.IsZero() || now.Sub(last) >= n.s.NoPeersWarn)
	if due {
		n.health.warnedAt = now
	}
	n.health.mu.Unlock()
	if due {
		n.log.Warn("no peers", "for", now.Sub(since).Round(time.Second), "since", since,
			"bootstrap", len(n.s.bootstrap), "must_connect", n.set.Counts().MustConnectTotal, "book", n.book.Len())
	}
}

// peerUp notes that a peer was admitted and logs it.
func (n *Node) peerUp(pc *peerConn) {
	n.health.mu.Lock()
	n.health.noPeersSince, n.health.warnedAt = time.Time{}, time.Time{}
	n.health.mu.Unlock()
	n.log.Info("peer connected", "peer", pc.id.String(), "dir", pc.dir.String(), "remote", pc.remote.String(),
		"role", strings.ToLower(strings.TrimPrefix(pc.meta.GetRole().String(), "NODE_ROLE_")), "software", pc.meta.GetSoftwareVersion())
}

// peerDown logs that an admitted peer's connection ended and why, and
// starts the no-peers clock when it was the last one.
func (n *Node) peerDown(pc *peerConn, err error) {
	n.health.mu.Lock()
	if n.peerCount() == 0 && n.health.noPeersSince.IsZero() {
		n.health.noPeersSince = n.s.Now()
	}
	n.health.mu.Unlock()
	args := []any{"peer", pc.id.String(), "dir", pc.dir.String(), "remote", pc.remote.String(),
		"connected_for", n.s.Now().Sub(pc.since).Round(time.Millisecond)}
	var ge *mux.GoAwayError
	switch {
	case errors.As(err, &ge):
		by := "us"
		if ge.Remote {
			by = "peer"
		}
		args = append(args, "goaway", ge.Code.String(), "goaway_by", by)
		if ge.Text != "" {
			args = append(args, "goaway_text", ge.Text)
		}
		if ge.Err != nil {
			args = append(args, "err", ge.Err.Error())
		}
	case err != nil:
		args = append(args, "err", err.Error())
	}
	n.log.Info("peer disconnected", args...)
}

// fillDialFailed logs a failed dial of fill: a bootstrap address (from the
// list, or from the book, which keeps those with an ID) goes to dialFailed,
// any other at DEBUG.
func (n *Node) fillDialFailed(a crypto.Address, err error) {
	for _, b := range n.s.bootstrap {
		if (!a.ID.IsZero() && b.ID == a.ID) || (a.ID.IsZero() && b.String() == a.String()) {
			n.dialFailed("bootstrap", a, err)
			return
		}
	}
	n.log.Debug("dial failed", "addr", a.String(), "err", err)
}

// dialFailed logs a failed dial to a bootstrap (kind "bootstrap") or
// must-connect ("must-connect") address: at WARN at most once per
// dialWarnEvery per address, with the failures since the last warning;
// at DEBUG otherwise. A dial that lost a race to a connection, or that the
// node's stop cut short, is not a failure.
func (n *Node) dialFailed(kind string, a crypto.Address, err error) {
	if errors.Is(err, ErrConnected) || errors.Is(err, ErrDialing) || (n.ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		return
	}
	key, now := kind+" "+a.String(), n.s.Now()
	n.health.mu.Lock()
	if n.health.dialWarns == nil || len(n.health.dialWarns) >= maxDialWarnAddrs {
		n.health.dialWarns = map[string]dialWarn{}
	}
	w, seen := n.health.dialWarns[key]
	warn := !seen || now.Sub(w.at) >= dialWarnEvery
	if warn {
		n.health.dialWarns[key] = dialWarn{at: now}
	} else {
		w.suppressed++
		n.health.dialWarns[key] = w
	}
	n.health.mu.Unlock()
	if !warn {
		n.log.Debug(kind+" dial failed", "addr", a.String(), "err", err.Error())
		return
	}
	args := []any{"addr", a.String(), "err", err.Error()}
	if w.suppressed > 0 {
		args = append(args, "failures_since_last_warning", w.suppressed)
	}
	n.log.Warn(kind+" dial failed", args...)
}
