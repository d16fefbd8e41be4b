package mux

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestSendPrefixed: a message sent as a prefix and a body arrives as their
// concatenation, whatever the sizes (a body empty, within one packet,
// across many, a prefix of every allowed length), through Send and
// TrySend alike, interleaved with plain sends; the size limit applies to
// the sum; a prefix over MaxSendPrefix is refused.
func TestSendPrefixed(t *testing.T) {
	const maxMsg = 1 << 20
	topics := []TopicConfig{{ID: 1, MaxMessageSize: maxMsg}}
	ca, _ := mcConfig(topics)
	cb, inb := mcConfig(topics)
	ca.MaxPacketPayload = 1000 // many packets per message, small ones too
	a, _ := mcPair(t, ca, cb)
	ctx := context.Background()
	for _, np := range []int{0, 1, 7, MaxSendPrefix} {
		for _, n := range []int{0, 1, 999 - np, 1000, 20000, maxMsg - np} {
			for _, try := range []bool{false, true} {
				name := fmt.Sprintf("prefix %d, body %d, try %v", np, n, try)
				pre := bytes.Repeat([]byte{0xA5}, np)
				body := make([]byte, n)
				for i := range body {
					body[i] = byte(i*13 + i>>9)
				}
				var err error
				if try {
					err = a.TrySendPrefixed(1, pre, body)
				} else {
					err = a.SendPrefixed(ctx, 1, pre, body)
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if err := a.Send(ctx, 1, []byte("plain")); err != nil {
					t.Fatal(err)
				}
				want := append(append([]byte(nil), pre...), body...)
				if m := inb.recv(t, 1, 10*time.Second); !bytes.Equal(m.Data, want) {
					t.Fatalf("%s: arrived as %d bytes, first difference at %d", name, len(m.Data), firstDiff(m.Data, want))
				}
				if m := inb.recv(t, 1, 10*time.Second); string(m.Data) != "plain" {
					t.Fatalf("%s: the next message arrived as %q", name, m.Data)
				}
			}
		}
	}
	if err := a.SendPrefixed(ctx, 1, []byte{1}, make([]byte, maxMsg)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("prefix + body over the limit: %v", err)
	}
	if err := a.TrySendPrefixed(1, make([]byte, MaxSendPrefix+1), nil); err == nil {
		t.Fatal("a prefix over MaxSendPrefix was accepted")
	}
}
