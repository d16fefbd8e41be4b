package mux

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// GoAwayCode says why a MultiConn was closed. It travels in the GOAWAY
// control message so the other side can log it and decide when to come back.
// Codes not listed here may arrive from newer peers; they print as numbers.
type GoAwayCode uint8

// Goaway codes. The numbers are part of the wire protocol.
const (
	// GoAwayShutdown: the node is stopping or the application closed the
	// connection normally.
	GoAwayShutdown GoAwayCode = 1
	// GoAwayTooManyPeers: the node has no room; try again later.
	GoAwayTooManyPeers GoAwayCode = 2
	// GoAwayBanned: the peer is banned; do not come back soon.
	GoAwayBanned GoAwayCode = 3
	// GoAwayProtocolViolation: the peer broke the MultiConn protocol.
	GoAwayProtocolViolation GoAwayCode = 4
	// GoAwayRateLimit: the peer persistently exceeded an inbound rate limit.
	GoAwayRateLimit GoAwayCode = 5
	// GoAwayTimeout: the peer was silent for longer than the idle timeout,
	// did not read what we wrote, or returned no credit on a topic with
	// queued messages for the credit-stall timeout.
	GoAwayTimeout GoAwayCode = 6
	// GoAwayDuplicate: another connection to the same peer was kept.
	GoAwayDuplicate GoAwayCode = 7
	// GoAwayTrimmed: the node is above its connection high watermark and
	// dropped this peer (lowest score first).
	GoAwayTrimmed GoAwayCode = 8
	// GoAwayIncompatible: the two sides cannot work together: one requires
	// a feature the other does not speak (New sends it, the text naming
	// the feature), or they share no topic either needs.
	GoAwayIncompatible GoAwayCode = 9
	// GoAwayInternal: a local error unrelated to the peer.
	GoAwayInternal GoAwayCode = 10
)

var goAwayNames = [...]string{
	GoAwayShutdown:          "shutdown",
	GoAwayTooManyPeers:      "too many peers",
	GoAwayBanned:            "banned",
	GoAwayProtocolViolation: "protocol violation",
	GoAwayRateLimit:         "rate limit",
	GoAwayTimeout:           "timeout",
	GoAwayDuplicate:         "duplicate connection",
	GoAwayTrimmed:           "trimmed",
	GoAwayIncompatible:      "incompatible",
	GoAwayInternal:          "internal error",
}

// String returns the code's name, or "code N" for codes this version does
// not know.
func (c GoAwayCode) String() string {
	if int(c) < len(goAwayNames) && goAwayNames[c] != "" {
		return goAwayNames[c]
	}
	return fmt.Sprintf("code %d", uint8(c))
}

// GoAwayError is why a MultiConn ended with a goaway: either the peer sent
// one (Remote) or we did. MultiConn.Err returns it, and send calls on the
// closed connection wrap it, so errors.As(err, &ge) finds the code.
type GoAwayError struct {
	Code GoAwayCode
	// Text is the free-form explanation, at most 256 bytes; from a peer it
	// is made valid UTF-8 but otherwise untrusted.
	Text string
	// Remote is true when the peer sent the goaway.
	Remote bool
	// Err is the local cause (a *ViolationError, a timeout…), nil for a
	// remote goaway or a plain close.
	Err error
}

func (e *GoAwayError) Error() string {
	var b strings.Builder
	if e.Remote {
		b.WriteString("mux: goaway from peer: ")
	} else {
		b.WriteString("mux: goaway sent: ")
	}
	b.WriteString(e.Code.String())
	if e.Text != "" {
		b.WriteString(": ")
		b.WriteString(e.Text)
	}
	return b.String()
}

// Unwrap returns the local cause, if any.
func (e *GoAwayError) Unwrap() error { return e.Err }

// cutText makes s valid UTF-8 and cuts it, at a rune boundary, to at most
// maxGoAwayText bytes.
func cutText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > maxGoAwayText {
		n := maxGoAwayText
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return s
}

// appendGoAwayMsg appends a GOAWAY control packet; text is cut to
// maxGoAwayText bytes of valid UTF-8.
func appendGoAwayMsg(b []byte, code GoAwayCode, text string) []byte {
	text = cutText(text)
	b = appendControlHeader(b, ctrlGoAway, 1+len(text))
	b = append(b, byte(code))
	return append(b, text...)
}

// parseGoAway decodes a GOAWAY body. Text from the peer is made valid UTF-8.
func parseGoAway(body []byte) (GoAwayCode, string, error) {
	if len(body) < 1 || len(body) > 1+maxGoAwayText {
		return 0, "", violation(ViolationMalformedControl, 0, "goaway body of %d bytes", len(body))
	}
	if body[0] == 0 {
		return 0, "", violation(ViolationMalformedControl, 0, "goaway code 0")
	}
	return GoAwayCode(body[0]), cutText(string(body[1:])), nil
}

// sendGoAwayAndLinger tells the peer why the connection ends without a
// writer goroutine (§8.5): a goaway (after our SETTINGS), then
// close-notify, then until deadline for the peer to close its side, so that
// closing with its bytes unread does not reset the connection before the
// goaway is read. What the peer sends meanwhile is read and discarded,
// never delivered. It reports whether the goaway was written.
func sendGoAwayAndLinger(t Transport, code GoAwayCode, text string, deadline time.Time) bool {
	t.SetWriteDeadline(time.Now().Add(goAwayWriteTimeout))
	if _, err := t.Write(appendGoAwayMsg(nil, code, text)); err != nil {
		return false
	}
	if cw, ok := t.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	t.SetReadDeadline(deadline)
	io.Copy(io.Discard, io.LimitReader(t, setupDrainMax))
	return true
}

// closeUnstarted ends a MultiConn that was never started with goaway ge,
// sent on the calling goroutine, then waits up to linger (and until ctx
// ends) for the peer to close. It closes the transport, then Done.
func (c *MultiConn) closeUnstarted(ctx context.Context, ge *GoAwayError, linger time.Duration) {
	deadline := time.Now().Add(linger)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.t.SetReadDeadline(time.Unix(1, 0))
		close(fired)
	})
	sent := sendGoAwayAndLinger(c.t, ge.Code, ge.Text, deadline)
	if !stop() {
		<-fired
	}
	c.p.log.Debug("mux: unstarted connection closed", "peer", c.remote.String(), "goaway", ge, "sent", sent)
	c.t.Close()
	close(c.done) // the last thing: nothing of the connection runs after Done
}

// Close closes the connection gracefully with goaway "shutdown", waiting
// at most CloseTimeout: see GoAway.
func (c *MultiConn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.p.closeTimeout)
	defer cancel()
	return c.GoAway(ctx, GoAwayShutdown, "")
}

// GoAway closes the connection gracefully: new sends are refused at once,
// messages already queued are sent (as the peer's credit allows), then a
// goaway with code and text, and the peer is given until ctx ends (and at
// most CloseTimeout) to close its side. If ctx ends first, the rest is
// dropped, the goaway is still tried, and the error says so. GoAway returns
// when the connection has ended, nil if it ended with this goaway; on a
// connection that is already closing it waits for that and returns Err.
func (c *MultiConn) GoAway(ctx context.Context, code GoAwayCode, text string) error {
	ge := &GoAwayError{Code: code, Text: cutText(text)}
	c.w.Lock()
	if !c.w.started {
		first := c.w.state == stateOpen
		if first {
			c.setCause(ge)
			c.endUnstartedLocked()
		}
		c.w.Unlock()
		if first {
			c.closeUnstarted(ctx, ge, c.p.closeTimeout)
		}
		<-c.done
		if err := c.Err(); err != ge {
			return err
		}
		return nil
	}
	if c.w.state == stateOpen {
		c.setCause(ge)
		c.w.state = stateClosing
		c.w.goaway = ge
		c.w.linger = c.p.closeTimeout
		close(c.closing)
		c.kickLocked()
	}
	c.w.Unlock()
	select {
	case <-c.done:
		if err := c.Err(); err != ge {
			return err // the connection had ended, or ended, for another reason
		}
		return nil
	case <-ctx.Done():
	}
	unsent := c.fail(ge, ge, 0)
	<-c.done
	return fmt.Errorf("mux: graceful close of %s incomplete, %d queued messages not sent: %w", c.remote.Short(), unsent, ctx.Err())
}

// Abort closes the connection at once: queued messages are dropped, a
// goaway with code and text is sent if the transport accepts it within a
// second, and the peer is given a second to close its side. Abort does not
// wait; Done is closed when the connection has ended.
func (c *MultiConn) Abort(code GoAwayCode, text string) {
	ge := &GoAwayError{Code: code, Text: cutText(text)}
	c.fail(ge, ge, abortLinger)
}

// fail ends the connection because of cause. If send is not nil and no
// goaway went out yet, the writer sends it, then waits up to linger for the
// peer to close; otherwise the transport is closed at once. Queued messages
// are dropped; fail returns how many. Only the first call has an effect.
func (c *MultiConn) fail(cause error, send *GoAwayError, linger time.Duration) (unsent int) {
	c.setCause(cause)
	c.w.Lock()
	if !c.w.started {
		if c.w.state == stateFinal {
			// Already ending: cut the linger short.
			c.w.Unlock()
			c.t.Close()
			return 0
		}
		unsent = c.endUnstartedLocked()
		c.w.Unlock()
		if send == nil {
			c.t.Close()
			close(c.done)
		} else {
			go c.closeUnstarted(context.Background(), send, linger)
		}
		return unsent
	}
	if c.w.state == stateFinal {
		// Already ending. If the goaway is out and the writer lingers for the
		// peer to close, stop waiting.
		sent := c.w.goawaySent
		c.w.Unlock()
		if sent {
			c.t.Close()
		}
		return 0
	}
	if c.w.state == stateOpen {
		close(c.closing)
	}
	c.w.state = stateFinal
	closeNow := send == nil || c.w.goawaySent
	if !closeNow {
		c.w.goaway = send
		c.w.linger = linger
	}
	unsent = c.dropQueuesLocked()
	c.kickLocked()
	c.w.Unlock()
	if unsent > 0 {
		c.st.unsent.Add(uint64(unsent))
	}
	c.p.log.Debug("mux: connection ending", "peer", c.remote.String(), "cause", cause, "unsent", unsent)
	if closeNow {
		c.t.Close()
	} else {
		// A writer blocked on a peer that does not read must get to the goaway.
		c.t.SetWriteDeadline(time.Now().Add(goAwayWriteTimeout))
	}
	return unsent
}

// exited is called by each goroutine as it ends; the last one finishes the
// connection.
func (c *MultiConn) exited() {
	if c.exits.Add(1) != 2 {
		return
	}
	c.stopKeepalive()
	c.w.Lock()
	if c.w.rateTimer != nil {
		c.w.rateTimer.Stop()
	}
	c.w.Unlock()
	c.t.Close()
	close(c.done)
	c.closed()
}

// endUnstartedLocked moves a MultiConn that was never started to its final
// state: sends are refused and what they queued is dropped. It returns how
// many messages were dropped. c.w must be held.
func (c *MultiConn) endUnstartedLocked() (unsent int) {
	if c.w.state == stateOpen {
		close(c.closing)
	}
	c.w.state = stateFinal
	unsent = c.dropQueuesLocked()
	if unsent > 0 {
		c.st.unsent.Add(uint64(unsent))
	}
	return unsent
}

// closed runs OnClose, once, after Done is closed, for a started MultiConn.
func (c *MultiConn) closed() {
	if c.p.onClose != nil {
		c.p.onClose(c, c.Err())
	}
}
