package conn

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// frameBuf returns a WriteFrame buffer holding payload.
func frameBuf(payload []byte) []byte {
	b := make([]byte, FrameHeadroom+len(payload), FrameHeadroom+len(payload)+FrameTailroom)
	copy(b[FrameHeadroom:], payload)
	return b
}

// TestWriteFrame: payloads sealed in place by WriteFrame arrive intact,
// mixed with Writes, across rekeys due at every frame; an empty payload
// sends nothing; a buffer without head or tail room is refused without
// harming the connection.
func TestWriteFrame(t *testing.T) {
	for _, rekeyEvery := range []uint64{0, 1} {
		name := "no rekey"
		if rekeyEvery > 0 {
			name = "rekey every frame"
		}
		t.Run(name, func(t *testing.T) {
			cc := testSecureConfig(t, 1)
			if rekeyEvery > 0 {
				cc.RekeyAfterFrames = rekeyEvery
			}
			c, s := hs.Pair(t, cc, testSecureConfig(t, 2))
			sizes := []int{1, 0, 100, MaxFramePayload, 4096, MaxFramePayload - 1}
			var want []byte
			go func() {
				for i, n := range sizes {
					p := randomBytes(uint64(i), n)
					if n, err := c.WriteFrame(frameBuf(p)); err != nil || n != len(p) {
						t.Errorf("WriteFrame of %d bytes: %d, %v", len(p), n, err)
						return
					}
					if _, err := c.Write(p[:min(len(p), 7)]); err != nil {
						t.Errorf("Write: %v", err)
						return
					}
				}
				c.CloseWrite()
			}()
			for i, n := range sizes {
				p := randomBytes(uint64(i), n)
				want = append(want, p...)
				want = append(want, p[:min(len(p), 7)]...)
			}
			got, err := io.ReadAll(s)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, err %v; want %d bytes (equal %v)", len(got), err, len(want), bytes.Equal(got, want))
			}
			if sent, _ := c.Rekeys(); rekeyEvery > 0 && sent < uint64(len(sizes)) {
				t.Fatalf("%d rekeys sent, want at least %d", sent, len(sizes))
			}
		})
	}
	t.Run("bad buffers", func(t *testing.T) {
		c, s := hs.Pair(t, testSecureConfig(t, 1), testSecureConfig(t, 2))
		for _, b := range [][]byte{
			make([]byte, FrameHeadroom-1, 64),                    // no headroom
			make([]byte, FrameHeadroom+10),                       // no tailroom
			make([]byte, FrameHeadroom+MaxFramePayload+1, 1<<17), // too long
		} {
			if _, err := c.WriteFrame(b); err == nil {
				t.Fatalf("WriteFrame accepted %d bytes with capacity %d", len(b), cap(b))
			}
		}
		if _, err := c.WriteFrame(frameBuf([]byte("ok"))); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 8)
		if n, err := s.Read(buf); err != nil || string(buf[:n]) != "ok" {
			t.Fatalf("read %q, %v after refused buffers", buf[:n], err)
		}
	})
	t.Run("hard limit", func(t *testing.T) {
		cc := testSecureConfig(t, 1)
		cc.RejectAfterFrames, cc.RekeyAfterFrames = 6, 1<<40
		sc := testSecureConfig(t, 2)
		sc.RejectAfterFrames = 6
		c, s := hs.Pair(t, cc, sc)
		var err error
		frames := 0
		for ; frames < 10 && err == nil; frames++ {
			_, err = c.WriteFrame(frameBuf([]byte{1, 2, 3}))
		}
		if !errors.Is(err, ErrNonceExhausted) {
			t.Fatalf("WriteFrame error %v, want ErrNonceExhausted", err)
		}
		got, rerr := io.ReadAll(s)
		if rerr != nil || len(got) != 3*(frames-1) {
			t.Fatalf("peer read %d bytes, %v; want %d and a clean EOF", len(got), rerr, 3*(frames-1))
		}
	})
}
