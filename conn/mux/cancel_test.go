package mux

import (
	"errors"
	"testing"
	"time"

	"github.com/peerwire/peerwire/internal/testutil"
)

// TestCancelQueued withdraws queued messages over real TCP: the receiver
// holds its first message undone, so the topic's credit (one message)
// keeps the rest queued; a cancelled one never arrives, the others arrive
// in order, the started one cannot be cancelled, and Stats counts the
// cancels and no unsent message.
func TestCancelQueued(t *testing.T) {
	const size = 4 << 10
	topics := []TopicConfig{{ID: 7, Name: "chunks", MaxMessageSize: size, RecvWindow: size + MessageCreditOverhead, SendQueue: 8}}
	ca, _ := mcConfig(topics)
	cb, inb := mcConfig(topics)
	a, _ := mcPair(t, ca, cb)
	msg := func(b byte) []byte {
		m := make([]byte, size-1)
		for i := range m {
			m[i] = b
		}
		return m
	}
	var hs []Handle
	for i := range 5 {
		h, err := a.TrySendCancelable(7, []byte{byte(i)}, msg(byte(i)))
		if err != nil {
			t.Fatalf("TrySendCancelable %d: %v", i, err)
		}
		hs = append(hs, h)
	}
	first := inb.recvHeld(t, 7, 10*time.Second) // message 0, holding the credit
	// Credit is charged whole before a message's first packet, so with
	// message 0 held, messages 1-4 wait in the queue, none started.
	testutil.Eventually(t, 10*time.Second, "four messages queued", func() bool { return a.Stats().Topics[0].SendQueue == 4 })
	if a.Cancel(7, hs[0]) {
		t.Fatal("Cancel of a message already sent reported true")
	}
	if !a.Cancel(7, hs[2]) || !a.Cancel(7, hs[4]) {
		t.Fatal("Cancel of a queued message reported false")
	}
	if a.Cancel(7, hs[2]) {
		t.Fatal("second Cancel of the same message reported true")
	}
	if a.Cancel(7, 0) || a.Cancel(99, hs[3]) {
		t.Fatal("Cancel of the zero handle or an unknown topic reported true")
	}
	if st := a.Stats(); st.Topics[0].SendQueue != 2 || st.Topics[0].SendQueueBytes != 2*size || st.Cancelled != 2 {
		t.Fatalf("after cancels: queue %d (%d bytes), cancelled %d; want 2 (%d bytes), 2",
			st.Topics[0].SendQueue, st.Topics[0].SendQueueBytes, st.Cancelled, 2*size)
	}
	first.Done()
	for _, want := range []byte{1, 3} {
		m := inb.recv(t, 7, 10*time.Second)
		if m.Data[0] != want {
			t.Fatalf("received message %d, want %d", m.Data[0], want)
		}
	}
	testutil.Eventually(t, 10*time.Second, "three messages sent", func() bool { return a.Stats().Topics[0].MsgsSent == 3 })
	select {
	case m := <-inb.ch[7]:
		t.Fatalf("cancelled message %d arrived", m.Data[0])
	default:
	}
	if st := a.Stats(); st.Unsent != 0 || st.Cancelled != 2 {
		t.Fatalf("unsent %d cancelled %d, want 0 and 2", st.Unsent, st.Cancelled)
	}
}

// TestCancelFreesRoom shows a cancel frees the queue at once for TrySend.
func TestCancelFreesRoom(t *testing.T) {
	const size = 1 << 10
	topics := []TopicConfig{{ID: 7, Name: "chunks", MaxMessageSize: size, RecvWindow: size + MessageCreditOverhead, SendQueue: 2}}
	ca, _ := mcConfig(topics)
	cb, inb := mcConfig(topics)
	a, _ := mcPair(t, ca, cb)
	if _, err := a.TrySendCancelable(7, nil, make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	m := inb.recvHeld(t, 7, 10*time.Second)
	defer m.Done()
	h1, err := a.TrySendCancelable(7, nil, make([]byte, size))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.TrySendCancelable(7, nil, make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	if err := a.TrySend(7, make([]byte, size)); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("TrySend on a full queue: %v, want ErrQueueFull", err)
	}
	if !a.Cancel(7, h1) {
		t.Fatal("Cancel of a queued message reported false")
	}
	if err := a.TrySend(7, make([]byte, size)); err != nil {
		t.Fatalf("TrySend after a cancel: %v", err)
	}
}
