package mux

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// FuzzMultiConnReader feeds random bytes to a MultiConn's reader after a
// real handshake and a valid SETTINGS, through the client's EncryptedConn:
// the server must never panic or hang, must end with an error (a violation
// or the end of the stream), and must never deliver more than its windows.
func FuzzMultiConnReader(f *testing.F) {
	f.Add(rawMessage(1, 1000, 512))
	f.Add(cat(rawMessage(2, 10, 512), rawMessage(1, 0, 512), appendNonceMsg(nil, ctrlPing, 1)))
	f.Add(cat(rawFirst(1, 700, 300), rawFirst(2, 5, 5), rawCont(1, 400)))
	f.Add(endWindowUpdate(appendWindowEntry(startWindowUpdate(nil), 1, 1), 0))
	f.Add(appendGoAwayMsg(nil, GoAwayBanned, "bye"))
	f.Add(appendNonceMsg(nil, ctrlPong, 42))
	f.Add([]byte{1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 9, 0, 0})
	f.Add([]byte{0, 0x85, 0, 2, 1, 2, 1, 1, 0, 1, 0, 0, 0, 1, 7}) // ignorable unknown control, then a message
	f.Add(bytes.Repeat([]byte{0, 0xff, 0, 0}, 20))                // a flood of them
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, in := mcConfig(violTopics)
		cfg.MaxPacketPayload = 512
		e, s := rawMultiPeer(t, cfg, &violClientSettings)
		e.Write(data) // fails once the server has closed: fine
		e.CloseWrite()
		e.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, e)
		mcWaitDone(t, s, 10*time.Second)
		err := s.Err()
		if err == nil {
			t.Fatal("connection ended without an error")
		}
		var v *ViolationError
		var ge *GoAwayError
		if !errors.As(err, &v) && !errors.As(err, &ge) && !errors.Is(err, io.EOF) {
			t.Logf("ended with %v", err) // e.g. a write to the closed client
		}
		if in.overflow.Load() != 0 {
			t.Fatal("delivered beyond the credit window")
		}
	})
}
