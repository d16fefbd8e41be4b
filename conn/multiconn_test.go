package conn

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

func TestMultiConnRoundTrip(t *testing.T) {
	ca, ina := mcConfig(mcTestTopics())
	cb, inb := mcConfig(mcTestTopics())
	a, b := mcPair(t, ca, cb)
	ctx := context.Background()
	for _, n := range []int{0, 1, 100, DefaultMaxPacketPayload, DefaultMaxPacketPayload + 1, 3 << 20} {
		msg := bytes.Repeat([]byte{byte(n)}, n)
		if err := a.Send(ctx, 2, msg); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(ctx, 2, msg); err != nil {
			t.Fatal(err)
		}
		for _, in := range []*mcInbox{inb, ina} {
			m := in.recv(t, 2, 10*time.Second)
			if !bytes.Equal(m.Data, msg) || m.Topic != 2 {
				t.Fatalf("size %d: got %d bytes on topic %d", n, len(m.Data), m.Topic)
			}
		}
	}
	if a.RemoteID() != b.Transport().(*EncryptedConn).LocalID() {
		t.Fatal("RemoteID mismatch")
	}
	if err := a.Send(ctx, 9, nil); !errors.Is(err, ErrTopicNotConfigured) {
		t.Fatalf("send on unconfigured topic: %v", err)
	}
	if err := a.Send(ctx, 1, make([]byte, 64<<10+1)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized send: %v", err)
	}
}
