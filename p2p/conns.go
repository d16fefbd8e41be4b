package p2p

// Connection tracking: every started MultiConn is tracked from Start until
// its OnClose has run, so Stop can wait for (or cut) each one.

import (
	"context"

	"github.com/peerwire/peerwire/conn/mux"
)

// track registers pc, whose MultiConn has just started, until its OnClose
// has run (untrack). Stop waits for every tracked connection.
func (n *Node) track(pc *peerConn) {
	n.conns.Lock()
	n.conns.live[pc] = struct{}{}
	n.conns.Unlock()
}

// currentConns returns the connections marked current: admitted, started
// and not yet closed, including those the set has removed (trimmed,
// replaced, banned, or by Close) whose OnClose has not run yet.
func (n *Node) currentConns() []*peerConn {
	n.conns.Lock()
	defer n.conns.Unlock()
	out := make([]*peerConn, 0, len(n.conns.live))
	for pc := range n.conns.live {
		if pc.current.Load() {
			out = append(out, pc)
		}
	}
	return out
}

// untrack ends what track began; it is the last thing OnClose does.
func (n *Node) untrack(pc *peerConn) {
	n.conns.Lock()
	delete(n.conns.live, pc)
	n.conns.Unlock()
	close(pc.closed)
}

// waitConns waits until every connection has ended and run its OnClose. It
// runs once nothing can start one any more. Connections still lingering
// for their peer to close when ctx ends are cut.
func (n *Node) waitConns(ctx context.Context) {
	n.conns.Lock()
	live := make([]*peerConn, 0, len(n.conns.live))
	for pc := range n.conns.live {
		live = append(live, pc)
	}
	n.conns.Unlock()
	for _, pc := range live {
		select {
		case <-pc.closed:
		case <-ctx.Done():
			pc.mc.Abort(mux.GoAwayShutdown, "node stopping")
			<-pc.closed
		}
	}
}
