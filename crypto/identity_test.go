package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// RFC 8032 §7.1, TEST 1.
const (
	rfc8032Seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	rfc8032Pub  = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
	rfc8032Sig  = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
	// rfc8032ID is SHA-256(rfc8032Pub)[:20].
	rfc8032ID = "21fe31dfa154a261626bf854046fd2271b7bed4b"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func rfc8032Identity(t testing.TB) *Identity {
	t.Helper()
	k, err := IdentityFromSeed(mustHex(t, rfc8032Seed))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestIdentityFromSeedKnownAnswer(t *testing.T) {
	k := rfc8032Identity(t)
	if got := hex.EncodeToString(k.PublicKey()); got != rfc8032Pub {
		t.Errorf("public key = %s, want %s", got, rfc8032Pub)
	}
	if got := k.ID().String(); got != rfc8032ID {
		t.Errorf("ID = %s, want %s", got, rfc8032ID)
	}
	if got := hex.EncodeToString(k.Sign(nil)); got != rfc8032Sig {
		t.Errorf("signature of the empty message = %s, want %s", got, rfc8032Sig)
	}
	if got := hex.EncodeToString(k.Seed()); got != rfc8032Seed {
		t.Errorf("Seed() = %s, want %s", got, rfc8032Seed)
	}
	// Seed returns a copy: scribbling on it must not change the identity.
	s := k.Seed()
	clear(s)
	if got := hex.EncodeToString(k.Seed()); got != rfc8032Seed {
		t.Errorf("Seed() after modifying a returned copy = %s", got)
	}
	if got := k.ID().Short(); got != rfc8032ID[:8] {
		t.Errorf("Short() = %s, want %s", got, rfc8032ID[:8])
	}
}

func TestIdentityFromSeedBadLength(t *testing.T) {
	for _, n := range []int{0, 31, 33, 64} {
		if _, err := IdentityFromSeed(make([]byte, n)); err == nil || !strings.Contains(err.Error(), "32 bytes") {
			t.Errorf("IdentityFromSeed(%d bytes) error = %v, want one saying 32 bytes", n, err)
		}
	}
}

func TestGenerateIdentity(t *testing.T) {
	// A fixed reader gives a fixed identity.
	k, err := GenerateIdentity(bytes.NewReader(mustHex(t, rfc8032Seed)))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(k.PublicKey()); got != rfc8032Pub {
		t.Errorf("public key = %s, want %s", got, rfc8032Pub)
	}
	// A short reader is an error, not a weak key.
	if _, err := GenerateIdentity(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Error("GenerateIdentity with a 31-byte reader succeeded")
	}
	// nil means crypto/rand; two draws differ.
	a, err := GenerateIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() == b.ID() {
		t.Error("two random identities have the same ID")
	}
	msg := []byte("hello")
	if !ed25519.Verify(a.PublicKey(), msg, a.Sign(msg)) {
		t.Error("signature does not verify")
	}
}

func TestIDFromPublicKey(t *testing.T) {
	for _, seed := range [][]byte{
		mustHex(t, rfc8032Seed),
		make([]byte, 32),
		bytes.Repeat([]byte{0xff}, 32),
	} {
		k, err := IdentityFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		pub := k.PublicKey()
		id := IDFromPublicKey(pub)
		if id != IDFromPublicKey(append(ed25519.PublicKey(nil), pub...)) {
			t.Error("IDFromPublicKey is not deterministic")
		}
		sum := sha256.Sum256(pub)
		if !bytes.Equal(id[:], sum[:IDLen]) {
			t.Errorf("ID = %x, want SHA-256(pub)[:20] = %x", id, sum[:IDLen])
		}
		if id != k.ID() {
			t.Errorf("Identity.ID() = %v, want %v", k.ID(), id)
		}
		if id.IsZero() {
			t.Error("ID of a real key is zero")
		}
	}
}

func TestIDFromPublicKeyPanicsOnBadLength(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("IDFromPublicKey(31 bytes) did not panic")
		}
	}()
	IDFromPublicKey(make([]byte, 31))
}

func TestParseID(t *testing.T) {
	want := ID(mustHex(t, rfc8032ID))
	tests := []struct {
		in      string
		want    ID
		wantErr string // substring; "" means success
	}{
		{in: rfc8032ID, want: want},
		// hex.Decode accepts upper and mixed case; String always prints lowercase.
		{in: strings.ToUpper(rfc8032ID), want: want},
		{in: "21FE31dfa154a261626bf854046fd2271b7bed4B", want: want},
		{in: strings.Repeat("0", 40), want: ID{}},
		{in: "", wantErr: "want 40 hex digits, have 0"},
		{in: rfc8032ID[:39], wantErr: "want 40 hex digits, have 39"},
		{in: rfc8032ID + "0", wantErr: "want 40 hex digits, have 41"},
		{in: rfc8032ID[:38] + "zz", wantErr: "not hex"},
		{in: rfc8032ID[:38] + "0x", wantErr: "not hex"},
		{in: " " + rfc8032ID[1:], wantErr: "not hex"},
		{in: rfc8032ID[:38] + "é", wantErr: "not hex"}, // é is 2 bytes: right length, not hex
	}
	for _, tt := range tests {
		got, err := ParseID(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseID(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
			}
			if got != (ID{}) {
				t.Errorf("ParseID(%q) returned %v with an error, want zero", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseID(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseID(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if s := got.String(); s != strings.ToLower(tt.in) {
			t.Errorf("ParseID(%q).String() = %q, want lowercase input", tt.in, s)
		}
	}
}

func TestIDTextRoundTrip(t *testing.T) {
	id := rfc8032Identity(t).ID()
	b, err := id.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != rfc8032ID {
		t.Errorf("MarshalText = %q, want %q", b, rfc8032ID)
	}
	var got ID
	if err := got.UnmarshalText(b); err != nil {
		t.Fatal(err)
	}
	if got != id {
		t.Errorf("UnmarshalText(MarshalText(id)) = %v, want %v", got, id)
	}
	// A failed UnmarshalText leaves the receiver unchanged.
	if err := got.UnmarshalText([]byte("nope")); err == nil {
		t.Error("UnmarshalText(\"nope\") succeeded")
	}
	if got != id {
		t.Errorf("failed UnmarshalText changed the ID to %v", got)
	}
}

func TestIDFromBytes(t *testing.T) {
	raw := mustHex(t, rfc8032ID)
	id, err := IDFromBytes(raw)
	if err != nil || id.String() != rfc8032ID {
		t.Errorf("IDFromBytes = %v, %v; want %s", id, err, rfc8032ID)
	}
	raw[0] ^= 1 // the ID is a copy
	if id.String() != rfc8032ID {
		t.Error("IDFromBytes aliases its input")
	}
	for _, n := range []int{0, 19, 21, 32} {
		if _, err := IDFromBytes(make([]byte, n)); err == nil || !strings.Contains(err.Error(), "want 20") {
			t.Errorf("IDFromBytes(%d bytes) error = %v", n, err)
		}
	}
	var zero ID
	if !zero.IsZero() || id.IsZero() {
		t.Error("IsZero is wrong")
	}
}
