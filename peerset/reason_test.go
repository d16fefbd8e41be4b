package peerset

import (
	"errors"
	"fmt"
	"testing"
)

func TestLabels(t *testing.T) {
	tests := []struct{ got, want string }{
		{Inbound.String(), "inbound"},
		{Outbound.String(), "outbound"},
		{Direction(0).String(), "direction(0)"},
		{ReasonNone.String(), "none"},
		{ReasonTooManyPeers.String(), "too-many-peers"},
		{ReasonLowReputation.String(), "low-reputation"},
		{DisconnectReason(200).String(), "reason(200)"},
		{EventProtocolViolation.String(), "protocol-violation"},
		{EventGoodMessage.String(), "good-message"},
		{EventCreditStall.String(), "credit-stall"},
		{Event(0).String(), "event(0)"},
		{Event(99).String(), "event(99)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	for r := DisconnectReason(0); r < numReasons; r++ {
		if reasonNames[r] == "" {
			t.Errorf("reason %d has no name", r)
		}
	}
	if Event(99).DefaultDelta() != 0 {
		t.Error("unknown event has a delta")
	}
}

func TestRefusedErrorMatching(t *testing.T) {
	err := fmt.Errorf("node: accept: %w", refused(pid(1), ReasonBanned, "until %s", "later"))
	if ReasonOf(err) != ReasonBanned || !errors.Is(err, ErrBanned) || errors.Is(err, ErrDuplicate) {
		t.Fatalf("matching broken for %v", err)
	}
	if got, want := errors.Unwrap(err).Error(), "peerset: refused 00010000: banned (until later)"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if ReasonOf(nil) != ReasonNone || ReasonOf(errors.New("x")) != ReasonNone {
		t.Fatal("ReasonOf of a foreign error")
	}
	// Reasons without a sentinel match nothing.
	if (&RefusedError{Reason: ReasonTrimmed}).Is(ErrClosed) {
		t.Fatal("trimmed matched closed")
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // é is two bytes: cut before it, not inside
		{"ééé", 5, "éé"},
	}
	for _, tt := range tests {
		if got := cut(tt.s, tt.n); got != tt.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}
