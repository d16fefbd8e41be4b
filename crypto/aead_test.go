package crypto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

var testKey = [KeySize]byte(seq(0x10, KeySize))

// pair returns a sender and a receiver for the same key.
func pair(limit uint64) (send, recv *CipherState) {
	return NewCipherState(testKey, limit), NewCipherState(testKey, limit)
}

// expectedNonce is 4 zero bytes then the little-endian counter.
func expectedNonce(n uint64) []byte {
	nonce := make([]byte, NonceSize)
	binary.LittleEndian.PutUint64(nonce[4:], n)
	return nonce
}

func TestCipherStateRoundTrip(t *testing.T) {
	send, recv := pair(1 << 20)
	for _, tt := range []struct {
		name    string
		pt, ad  []byte
		cap     int
		inPlace bool
	}{
		{name: "empty", pt: nil, ad: nil},
		{name: "empty with AD", pt: []byte{}, ad: []byte("ad")},
		{name: "small", pt: []byte("hello, peer"), ad: []byte{0, 11}},
		{name: "1 KiB", pt: seq(0, 1024), ad: []byte{4, 0}},
		{name: "64 KiB-16 in place", pt: bytes.Repeat([]byte{0xaa}, 64<<10-TagSize), ad: []byte{0xff, 0xf0}, inPlace: true},
		{name: "in place", pt: []byte("in place"), ad: []byte("x"), inPlace: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ct []byte
			var err error
			if tt.inPlace {
				buf := make([]byte, len(tt.pt), len(tt.pt)+TagSize)
				copy(buf, tt.pt)
				ct, err = send.Seal(buf[:0], buf, tt.ad)
				if err == nil && &ct[0] != &buf[0] {
					t.Error("in-place Seal moved the buffer")
				}
			} else {
				ct, err = send.Seal([]byte("prefix"), tt.pt, tt.ad)
				if err == nil {
					if !bytes.HasPrefix(ct, []byte("prefix")) {
						t.Fatal("Seal did not append to dst")
					}
					ct = ct[len("prefix"):]
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ct) != len(tt.pt)+TagSize {
				t.Fatalf("ciphertext is %d bytes, want %d", len(ct), len(tt.pt)+TagSize)
			}
			var pt []byte
			if tt.inPlace {
				pt, err = recv.Open(ct[:0], ct, tt.ad)
			} else {
				pt, err = recv.Open(nil, ct, tt.ad)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pt, tt.pt) {
				t.Errorf("Open = %q..., want %q...", short(string(pt)), short(string(tt.pt)))
			}
		})
	}
	if send.Count() != recv.Count() || send.Count() != 6 {
		t.Errorf("counts: send %d, recv %d, want 6", send.Count(), recv.Count())
	}
}

func TestCipherStateNonceLayout(t *testing.T) {
	// Open each frame with x/crypto directly, using the nonce the protocol
	// specifies: 4 zero bytes || 64-bit little-endian frame counter.
	raw, err := chacha20poly1305.New(testKey[:])
	if err != nil {
		t.Fatal(err)
	}
	s := NewCipherState(testKey, 1<<20)
	const frames = 300 // past 255, so the counter's second byte is exercised
	for i := range uint64(frames) {
		if got := s.Count(); got != i {
			t.Fatalf("Count() = %d before frame %d", got, i)
		}
		pt := []byte{byte(i), byte(i >> 8)}
		ad := []byte("frame")
		ct, err := s.Seal(nil, pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		got, err := raw.Open(nil, expectedNonce(i), ct, ad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("frame %d does not open with nonce %x: %v", i, expectedNonce(i), err)
		}
		if want := raw.Seal(nil, expectedNonce(i), pt, ad); !bytes.Equal(ct, want) {
			t.Fatalf("frame %d = %x, raw Seal with the expected nonce = %x", i, ct, want)
		}
	}
	if s.Count() != frames || s.Remaining() != 1<<20-frames {
		t.Errorf("Count %d Remaining %d", s.Count(), s.Remaining())
	}

	// The receive side uses the same counter sequence.
	r := NewCipherState(testKey, 1<<20)
	for i := range uint64(3) {
		ct := raw.Seal(nil, expectedNonce(i), []byte("x"), nil)
		if _, err := r.Open(nil, ct, nil); err != nil {
			t.Fatalf("Open of a raw frame with nonce %d: %v", i, err)
		}
	}
}

func TestCipherStateTampering(t *testing.T) {
	pt := []byte("attack at dawn")
	ad := []byte{0x00, 0x0e}
	tamper := []struct {
		name string
		mod  func(ct, ad []byte) ([]byte, []byte)
	}{
		{"ciphertext byte", func(ct, ad []byte) ([]byte, []byte) { ct[0] ^= 1; return ct, ad }},
		{"last ciphertext byte", func(ct, ad []byte) ([]byte, []byte) { ct[len(pt)-1] ^= 0x80; return ct, ad }},
		{"tag byte", func(ct, ad []byte) ([]byte, []byte) { ct[len(ct)-1] ^= 1; return ct, ad }},
		{"AD byte", func(ct, ad []byte) ([]byte, []byte) { ad[1] ^= 1; return ct, ad }},
		{"AD missing", func(ct, ad []byte) ([]byte, []byte) { return ct, nil }},
		{"AD extended", func(ct, ad []byte) ([]byte, []byte) { return ct, append(ad, 0) }},
		{"truncated", func(ct, ad []byte) ([]byte, []byte) { return ct[:len(ct)-1], ad }},
		{"shorter than a tag", func(ct, ad []byte) ([]byte, []byte) { return ct[:TagSize-1], ad }},
		{"empty", func(ct, ad []byte) ([]byte, []byte) { return nil, ad }},
		{"extended", func(ct, ad []byte) ([]byte, []byte) { return append(ct, 0), ad }},
	}
	for _, tt := range tamper {
		t.Run(tt.name, func(t *testing.T) {
			send, recv := pair(100)
			ct, err := send.Seal(nil, pt, ad)
			if err != nil {
				t.Fatal(err)
			}
			badCT, badAD := tt.mod(bytes.Clone(ct), bytes.Clone(ad))
			dst := []byte("dst")
			out, err := recv.Open(dst, badCT, badAD)
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("Open of a tampered frame error = %v, want ErrOpen", err)
			}
			if !bytes.Equal(out, []byte("dst")) {
				t.Errorf("failed Open returned %q, want dst unchanged", out)
			}
			// The failed frame consumed its nonce.
			if recv.Count() != 1 {
				t.Errorf("Count after a failed Open = %d, want 1", recv.Count())
			}
			// So even the genuine frame no longer opens: the stream is dead.
			if _, err := recv.Open(nil, ct, ad); !errors.Is(err, ErrOpen) {
				t.Errorf("genuine frame after a failure: error = %v, want ErrOpen", err)
			}
		})
	}
}

func TestCipherStateReplayAndReorder(t *testing.T) {
	// Reordered: frame 1 does not open in position 0.
	send, recv := pair(100)
	send.Seal(nil, []byte("zero"), nil)
	ct1, _ := send.Seal(nil, []byte("one"), nil)
	if _, err := recv.Open(nil, ct1, nil); !errors.Is(err, ErrOpen) {
		t.Errorf("frame 1 opened at position 0: %v", err)
	}
	// Replayed: frame 0 does not open in position 1.
	send, recv = pair(100)
	ct0, _ := send.Seal(nil, []byte("zero"), nil)
	if _, err := recv.Open(nil, ct0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := recv.Open(nil, ct0, nil); !errors.Is(err, ErrOpen) {
		t.Errorf("replayed frame 0 opened: %v", err)
	}
}

func TestCipherStateHardLimit(t *testing.T) {
	const limit = 3
	send, recv := pair(limit)
	var frames [][]byte
	for i := range limit {
		if got := send.Remaining(); got != uint64(limit-i) {
			t.Errorf("Remaining before frame %d = %d, want %d", i, got, limit-i)
		}
		ct, err := send.Seal(nil, []byte{byte(i)}, nil)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		frames = append(frames, ct)
	}
	dst := []byte("dst")
	out, err := send.Seal(dst, []byte("one too many"), nil)
	if !errors.Is(err, ErrNonceExhausted) {
		t.Fatalf("Seal at the limit error = %v, want ErrNonceExhausted", err)
	}
	if !bytes.Equal(out, []byte("dst")) {
		t.Errorf("Seal at the limit returned %q, want dst unchanged", out)
	}
	if send.Count() != limit || send.Remaining() != 0 {
		t.Errorf("at the limit: Count %d Remaining %d", send.Count(), send.Remaining())
	}
	// Refusing again does not move the counter.
	if _, err := send.Seal(nil, nil, nil); !errors.Is(err, ErrNonceExhausted) || send.Count() != limit {
		t.Errorf("second Seal at the limit: %v, Count %d", err, send.Count())
	}
	for i, ct := range frames {
		if _, err := recv.Open(nil, ct, nil); err != nil {
			t.Fatalf("Open frame %d: %v", i, err)
		}
	}
	if _, err := recv.Open(nil, frames[0], nil); !errors.Is(err, ErrNonceExhausted) {
		t.Errorf("Open at the limit error = %v, want ErrNonceExhausted", err)
	}
	// Ratchet restarts the count.
	send.Ratchet()
	if send.Count() != 0 || send.Remaining() != limit {
		t.Errorf("after Ratchet: Count %d Remaining %d", send.Count(), send.Remaining())
	}
	if _, err := send.Seal(nil, nil, nil); err != nil {
		t.Errorf("Seal after Ratchet: %v", err)
	}
}

func TestCipherStateLimitOne(t *testing.T) {
	s := NewCipherState(testKey, 1)
	if _, err := s.Seal(nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal(nil, nil, nil); !errors.Is(err, ErrNonceExhausted) {
		t.Errorf("second Seal with limit 1: %v", err)
	}
}

func TestNewCipherStateZeroLimitPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewCipherState(key, 0) did not panic")
		}
	}()
	NewCipherState(testKey, 0)
}

func TestCipherStateDestroy(t *testing.T) {
	s := NewCipherState(testKey, 10)
	s.Destroy()
	if s.key != ([KeySize]byte{}) {
		t.Error("Destroy left the key in place")
	}
	if s.Remaining() != 0 {
		t.Errorf("Remaining after Destroy = %d", s.Remaining())
	}
	if _, err := s.Seal(nil, []byte("x"), nil); !errors.Is(err, ErrNonceExhausted) {
		t.Errorf("Seal after Destroy error = %v, want ErrNonceExhausted", err)
	}
	if _, err := s.Open(nil, make([]byte, 32), nil); !errors.Is(err, ErrNonceExhausted) {
		t.Errorf("Open after Destroy error = %v, want ErrNonceExhausted", err)
	}
}

func TestCipherStateRatchet(t *testing.T) {
	send, recv := pair(1 << 20)
	// Frame 0 under the old key.
	old, err := send.Seal(nil, []byte("old key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The receiver ratchets; the old-key frame with the same counter fails.
	recv.Ratchet()
	if _, err := recv.Open(nil, old, nil); !errors.Is(err, ErrOpen) {
		t.Errorf("old-key frame after the receiver ratcheted: error = %v, want ErrOpen", err)
	}

	// The new key is RatchetKey(old key), with the counter back at 0.
	send, recv = pair(1 << 20)
	send.Seal(nil, []byte("a"), nil)
	send.Ratchet()
	ct, err := send.Seal(nil, []byte("new key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	next := RatchetKey(testKey)
	raw, _ := chacha20poly1305.New(next[:])
	if pt, err := raw.Open(nil, expectedNonce(0), ct, nil); err != nil || string(pt) != "new key" {
		t.Errorf("frame after Ratchet does not open under RatchetKey(key) with nonce 0: %v", err)
	}
	// A receiver that did not ratchet cannot read it.
	if _, err := recv.Open(nil, ct, nil); !errors.Is(err, ErrOpen) {
		t.Errorf("new-key frame opened by a receiver that did not ratchet: %v", err)
	}
}

func TestCipherStateRatchetInStep(t *testing.T) {
	send, recv := pair(1 << 20)
	var ct, pt []byte
	var err error
	for i := range 5000 {
		// A varying number of frames per key.
		for j := range i%3 + 1 {
			msg := []byte{byte(i), byte(i >> 8), byte(j)}
			if ct, err = send.Seal(ct[:0], msg, msg[:1]); err != nil {
				t.Fatalf("ratchet %d frame %d: Seal: %v", i, j, err)
			}
			if pt, err = recv.Open(pt[:0], ct, msg[:1]); err != nil {
				t.Fatalf("ratchet %d frame %d: Open: %v", i, j, err)
			}
			if !bytes.Equal(pt, msg) {
				t.Fatalf("ratchet %d frame %d: got %x want %x", i, j, pt, msg)
			}
		}
		send.Ratchet()
		recv.Ratchet()
		if send.Count() != 0 || recv.Count() != 0 {
			t.Fatalf("ratchet %d: counts %d/%d", i, send.Count(), recv.Count())
		}
	}
	if send.key != recv.key || send.key == testKey {
		t.Error("keys diverged or never moved")
	}
}

// TestCipherStateCountConcurrent: Count and Remaining may be read from any
// goroutine while another seals (run with -race).
func TestCipherStateCountConcurrent(t *testing.T) {
	const frames = 2000
	s := NewCipherState(testKey, 1<<20)
	start, stop := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop) // also on t.Fatal
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		var last uint64
		for last < frames {
			select {
			case <-stop:
				return
			default:
			}
			n := s.Count()
			if n < last {
				t.Errorf("Count went backwards: %d after %d", n, last)
				return
			}
			_ = s.Remaining()
			last = n
		}
	}()
	close(start)
	buf := make([]byte, 0, 64)
	for range frames {
		if _, err := s.Seal(buf[:0], []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCipherStateNoAllocs(t *testing.T) {
	send, recv := pair(1 << 30)
	for _, size := range []int{0, 64, 1024, 16 << 10} {
		buf := make([]byte, size, size+TagSize)
		ad := []byte{byte(size >> 8), byte(size)}
		if n := testing.AllocsPerRun(50, func() {
			if _, err := send.Seal(buf[:0], buf, ad); err != nil {
				panic(err)
			}
			buf = buf[:size]
		}); n != 0 {
			t.Errorf("%d B: Seal in place allocates %v times per frame", size, n)
		}
		// Bring the receiver's counter level with the sender's.
		for recv.Count() < send.Count() {
			recv.Open(nil, nil, nil)
		}
		// Seal then Open in place: Seal is known not to allocate, so any
		// allocation is Open's.
		if n := testing.AllocsPerRun(50, func() {
			ct, err := send.Seal(buf[:0], buf, ad)
			if err != nil {
				panic(err)
			}
			pt, err := recv.Open(ct[:0], ct, ad)
			if err != nil {
				panic(err)
			}
			buf = pt
		}); n != 0 {
			t.Errorf("%d B: Open in place allocates %v times per frame", size, n)
		}
		// Appending into a separate buffer with room does not allocate either.
		out := make([]byte, 0, size+TagSize)
		if n := testing.AllocsPerRun(50, func() {
			if _, err := send.Seal(out[:0], buf, ad); err != nil {
				panic(err)
			}
		}); n != 0 {
			t.Errorf("%d B: Seal into a separate buffer allocates %v times", size, n)
		}
		for recv.Count() < send.Count() {
			recv.Open(nil, nil, nil)
		}
	}
}
