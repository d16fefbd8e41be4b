package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"testing"

	"golang.org/x/crypto/hkdf"
)

// Key-schedule inputs for the known-answer test. The expected outputs below
// were computed independently of this package (Python hashlib/hmac, HKDF
// written out from RFC 5869), so a changed label, order or length fails here.
var (
	vecNetwork   = "testnet"
	vecEphLow    = seq(0x00, 32)
	vecEphHigh   = seq(0x80, 32)
	vecHelloLow  = append([]byte("hello-low:"), vecEphLow...)
	vecHelloHigh = append([]byte("hello-high:"), vecEphHigh...)
	vecShared    = seq(0x40, 32)
)

const (
	vecTranscript = "57614041b58a1f5c92fd1fbefedeb86b81fcaab82f2312d0648b2c9f282ce5fc"
	vecLowKey     = "8f6a56315e9758faee4d2230547417240303c69d1ebe2a1696b78f5d6dd939b3"
	vecHighKey    = "6e8fccdb75a2f6ff84ccea32950961cb6a7d0974687d8798059c223a80c14b8d"
	vecChallenge  = "1258dc8730619b4cd04ad6d07fae505c0416ea3b248d9867a67abc34eb0c5649"
	vecRatchetLow = "4c61741e4c9e548c243d0e45708766f2c72f258a5cc37936010cd7a6e883d03f"
)

// seq returns n bytes start, start+1, ...
func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func TestKeyScheduleKnownAnswer(t *testing.T) {
	th := Transcript(vecNetwork, vecHelloLow, vecEphLow, vecHelloHigh, vecEphHigh)
	if got := hex.EncodeToString(th[:]); got != vecTranscript {
		t.Errorf("Transcript = %s, want %s", got, vecTranscript)
	}
	k, err := DeriveSessionKeys(vecShared, th)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want string
	}{
		{"LowKey", hex.EncodeToString(k.LowKey[:]), vecLowKey},
		{"HighKey", hex.EncodeToString(k.HighKey[:]), vecHighKey},
		{"Challenge", hex.EncodeToString(k.Challenge[:]), vecChallenge},
	} {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
	if got := RatchetKey(k.LowKey); hex.EncodeToString(got[:]) != vecRatchetLow {
		t.Errorf("RatchetKey(LowKey) = %x, want %s", got, vecRatchetLow)
	}
	for _, c := range []struct{ network, want string }{
		{"testnet", "ef9678a0dcc2ae5d"},
		{"", "fa7011aa8065bdee"},
	} {
		if got := NetworkTag(c.network); hex.EncodeToString(got[:]) != c.want {
			t.Errorf("NetworkTag(%q) = %x, want %s", c.network, got, c.want)
		}
	}
}

// TestKeyScheduleMatchesXCrypto recomputes the schedule with
// golang.org/x/crypto/hkdf, an implementation independent of crypto/hkdf,
// over several inputs.
func TestKeyScheduleMatchesXCrypto(t *testing.T) {
	for i, shared := range [][]byte{vecShared, make([]byte, 32), seq(0xf0, 32), seq(1, 5)} {
		var th [32]byte
		th[0] = byte(i)
		k, err := DeriveSessionKeys(shared, th)
		if err != nil {
			t.Fatal(err)
		}
		okm := make([]byte, 96)
		if _, err := io.ReadFull(hkdf.New(sha256.New, shared, th[:], []byte("peerwire/1 session keys")), okm); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k.LowKey[:], okm[:32]) || !bytes.Equal(k.HighKey[:], okm[32:64]) || !bytes.Equal(k.Challenge[:], okm[64:]) {
			t.Errorf("input %d: DeriveSessionKeys = %x|%x|%x, x/crypto/hkdf = %x", i, k.LowKey, k.HighKey, k.Challenge, okm)
		}
		next := make([]byte, 32)
		if _, err := io.ReadFull(hkdf.Expand(sha256.New, k.LowKey[:], []byte("peerwire/1 rekey")), next); err != nil {
			t.Fatal(err)
		}
		if got := RatchetKey(k.LowKey); !bytes.Equal(got[:], next) {
			t.Errorf("input %d: RatchetKey = %x, x/crypto/hkdf = %x", i, got, next)
		}
	}
}

func TestTranscriptLayout(t *testing.T) {
	// SHA-256(label || u16be(len(network)) || network || low hello || high hello).
	var buf bytes.Buffer
	buf.WriteString("peerwire/1 transcript")
	binary.Write(&buf, binary.BigEndian, uint16(len(vecNetwork)))
	buf.WriteString(vecNetwork)
	buf.Write(vecHelloLow)
	buf.Write(vecHelloHigh)
	want := sha256.Sum256(buf.Bytes())
	if got := Transcript(vecNetwork, vecHelloLow, vecEphLow, vecHelloHigh, vecEphHigh); got != want {
		t.Errorf("Transcript = %x, want %x", got, want)
	}
}

func TestTranscriptOrderIndependent(t *testing.T) {
	ab := Transcript(vecNetwork, vecHelloLow, vecEphLow, vecHelloHigh, vecEphHigh)
	ba := Transcript(vecNetwork, vecHelloHigh, vecEphHigh, vecHelloLow, vecEphLow)
	if ab != ba {
		t.Errorf("swapping the sides changes the transcript: %x vs %x", ab, ba)
	}
	// The order follows the ephemeral keys, not the hellos' content.
	swapped := Transcript(vecNetwork, vecHelloLow, vecEphHigh, vecHelloHigh, vecEphLow)
	if swapped == ab {
		t.Error("transcript ignores which hello carries the lower ephemeral key")
	}
}

func TestTranscriptChangesWithEveryInputByte(t *testing.T) {
	base := Transcript(vecNetwork, vecHelloLow, vecEphLow, vecHelloHigh, vecEphHigh)
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		return c
	}
	for i := range vecHelloLow {
		if Transcript(vecNetwork, flip(vecHelloLow, i), vecEphLow, vecHelloHigh, vecEphHigh) == base {
			t.Errorf("flipping byte %d of the low hello does not change the transcript", i)
		}
	}
	for i := range vecHelloHigh {
		if Transcript(vecNetwork, vecHelloLow, vecEphLow, flip(vecHelloHigh, i), vecEphHigh) == base {
			t.Errorf("flipping byte %d of the high hello does not change the transcript", i)
		}
	}
	for i := range len(vecNetwork) {
		n := string(flip([]byte(vecNetwork), i))
		if Transcript(n, vecHelloLow, vecEphLow, vecHelloHigh, vecEphHigh) == base {
			t.Errorf("flipping byte %d of the network ID does not change the transcript", i)
		}
	}
	for _, n := range []string{"", "testne", "testnet2", "Testnet"} {
		if Transcript(n, vecHelloLow, vecEphLow, vecHelloHigh, vecEphHigh) == base {
			t.Errorf("network %q gives the same transcript as %q", n, vecNetwork)
		}
	}
	// The length prefix separates the network ID from the hellos.
	if Transcript("testnet"+"h", vecHelloLow[1:], vecEphLow, vecHelloHigh, vecEphHigh) == base {
		t.Error("moving a byte from the hello into the network ID keeps the transcript")
	}
}

func TestDeriveSessionKeys(t *testing.T) {
	th := Transcript(vecNetwork, vecHelloLow, vecEphLow, vecHelloHigh, vecEphHigh)
	k, err := DeriveSessionKeys(vecShared, th)
	if err != nil {
		t.Fatal(err)
	}
	if k.LowKey == k.HighKey || k.LowKey == k.Challenge || k.HighKey == k.Challenge {
		t.Error("session keys are not pairwise distinct")
	}
	again, err := DeriveSessionKeys(bytes.Clone(vecShared), th)
	if err != nil || again != k {
		t.Error("DeriveSessionKeys is not deterministic")
	}
	for i := range th {
		th2 := th
		th2[i] ^= 0x80
		k2, err := DeriveSessionKeys(vecShared, th2)
		if err != nil {
			t.Fatal(err)
		}
		if k2.LowKey == k.LowKey || k2.HighKey == k.HighKey || k2.Challenge == k.Challenge {
			t.Errorf("flipping transcript byte %d leaves an output unchanged", i)
		}
	}
	shared := bytes.Clone(vecShared)
	shared[31] ^= 1
	k3, err := DeriveSessionKeys(shared, th)
	if err != nil {
		t.Fatal(err)
	}
	if k3.LowKey == k.LowKey || k3.HighKey == k.HighKey || k3.Challenge == k.Challenge {
		t.Error("a different shared secret leaves an output unchanged")
	}
}

func TestRatchetKey(t *testing.T) {
	k0 := [KeySize]byte(vecShared)
	k1 := RatchetKey(k0)
	if k1 == k0 {
		t.Fatal("RatchetKey returned its input")
	}
	if RatchetKey(k0) != k1 {
		t.Error("RatchetKey is not deterministic")
	}
	if k0 != [KeySize]byte(vecShared) {
		t.Error("RatchetKey modified its input")
	}
	// A chain of ratchets never revisits a key (over a short run).
	seen := map[[KeySize]byte]int{k0: 0}
	k := k0
	for i := 1; i <= 1000; i++ {
		k = RatchetKey(k)
		if j, ok := seen[k]; ok {
			t.Fatalf("ratchet %d repeats key %d", i, j)
		}
		seen[k] = i
	}
	var zero [KeySize]byte
	if RatchetKey(zero) == zero {
		t.Error("RatchetKey(zero) is zero")
	}
}

func TestAuthSigningInput(t *testing.T) {
	var challenge [KeySize]byte
	copy(challenge[:], seq(0xa0, KeySize))
	meta := []byte{0x0a, 0x03, 'a', 'b', 'c'}
	prefix := []byte("keep")
	for _, role := range []Role{RoleDialer, RoleAcceptor} {
		got := AuthSigningInput(bytes.Clone(prefix), challenge, role, meta)
		const label = "peerwire/1 auth"
		if len(got) != len(prefix)+len(label)+KeySize+1+len(meta) {
			t.Fatalf("%v: length %d", role, len(got))
		}
		off := 0
		expect := func(what string, want []byte) {
			t.Helper()
			if part := got[off : off+len(want)]; !bytes.Equal(part, want) {
				t.Errorf("%v: %s at offset %d = %x, want %x", role, what, off, part, want)
			}
			off += len(want)
		}
		expect("dst prefix", prefix)
		expect("label", []byte(label))
		expect("challenge", challenge[:])
		expect("role byte", []byte{byte(role)})
		expect("meta", meta)
	}
	if bytes.Equal(AuthSigningInput(nil, challenge, RoleDialer, meta), AuthSigningInput(nil, challenge, RoleAcceptor, meta)) {
		t.Error("dialer and acceptor sign the same bytes")
	}
	if got := AuthSigningInput(nil, challenge, RoleDialer, nil); len(got) != len("peerwire/1 auth")+KeySize+1 {
		t.Errorf("empty meta: length %d", len(got))
	}
	// Appends into spare capacity without allocating.
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { _ = AuthSigningInput(buf[:0], challenge, RoleDialer, meta) }); n != 0 {
		t.Errorf("AuthSigningInput into a large enough buffer allocates %v times", n)
	}
}

func TestRole(t *testing.T) {
	tests := []struct {
		r        Role
		opposite Role
		str      string
	}{
		{RoleDialer, RoleAcceptor, "dialer"},
		{RoleAcceptor, RoleDialer, "acceptor"},
		{Role(0), RoleDialer, "role(0)"},
		{Role(7), RoleDialer, "role(7)"},
	}
	for _, tt := range tests {
		if got := tt.r.Opposite(); got != tt.opposite {
			t.Errorf("%v.Opposite() = %v, want %v", tt.r, got, tt.opposite)
		}
		if got := tt.r.String(); got != tt.str {
			t.Errorf("Role(%d).String() = %q, want %q", byte(tt.r), got, tt.str)
		}
	}
	if RoleDialer != 1 || RoleAcceptor != 2 {
		t.Error("role bytes changed; they are signed on the wire")
	}
}
