package dht

import (
	"errors"
	"net/netip"
	"testing"
)

// TestRecordRefused checks that DecodeRecord refuses every kind of bad
// record: another network's, a tampered one, trailing bytes, truncation,
// and the non-canonical addresses NewRecord would never write.
func TestRecordRefused(t *testing.T) {
	k := vectorKey(t, 0xa0)
	good, err := NewRecord(k, vectorNetwork, 7, RoleServer, []netip.AddrPort{netip.MustParseAddrPort("203.0.113.7:26656")})
	if err != nil {
		t.Fatal(err)
	}
	raw := good.Bytes()
	flip := func(i int) []byte { b := append([]byte(nil), raw...); b[i] ^= 1; return b }
	cases := []struct {
		name    string
		network string
		b       []byte
	}{
		{"other network", "peerwire-other", raw},
		{"seq tampered", vectorNetwork, flip(33)},
		{"roles tampered", vectorNetwork, flip(41)},
		{"signature tampered", vectorNetwork, flip(len(raw) - 1)},
		{"trailing byte", vectorNetwork, append(append([]byte(nil), raw...), 0)},
		{"truncated", vectorNetwork, raw[:len(raw)-1]},
		{"version 2", vectorNetwork, append([]byte{2}, raw[1:]...)},
		{"over 300 bytes", vectorNetwork, make([]byte, MaxRecordSize+1)},
	}
	for _, c := range cases {
		if _, err := DecodeRecord(c.network, c.b); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: got %v, want ErrBadRecord", c.name, err)
		}
	}
	if _, err := DecodeRecord(vectorNetwork, raw); err != nil {
		t.Fatalf("good record refused: %v", err)
	}
	for _, a := range []string{"[::ffff:1.2.3.4]:5", "0.0.0.0:5", "1.2.3.4:0"} {
		// Sign a record with the address written raw, as a forger could.
		ap := netip.MustParseAddrPort(a)
		body := []byte{recordVersion}
		body = append(body, k.PublicKey()...)
		body = append(body, 0, 0, 0, 0, 0, 0, 0, 1, byte(RoleServer), 1)
		if ap.Addr().Is4() {
			body = append(body, addrTag4)
		} else {
			body = append(body, addrTag6)
		}
		body = append(body, ap.Addr().AsSlice()...)
		body = append(body, byte(ap.Port()>>8), byte(ap.Port()))
		b := append(body, k.Sign(signingInput(vectorNetwork, body))...)
		if _, err := DecodeRecord(vectorNetwork, b); !errors.Is(err, ErrBadRecord) {
			t.Errorf("address %s: got %v, want ErrBadRecord", a, err)
		}
	}
	nine := make([]netip.AddrPort, MaxRecordAddrs+1)
	for i := range nine {
		nine[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{1, 2, 3, byte(i)}), 1)
	}
	if _, err := NewRecord(k, vectorNetwork, 1, 0, nine); err == nil {
		t.Error("NewRecord took 9 addresses")
	}
	max8 := make([]netip.AddrPort, MaxRecordAddrs)
	for i := range max8 {
		max8[i] = netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 1, byte(i), 15: 1}), 65535)
	}
	r, err := NewRecord(k, string(make([]byte, 255)), ^uint64(0), 0xff, max8)
	if err != nil || len(r.Bytes()) > MaxRecordSize {
		t.Errorf("largest record: %v, %d bytes (at most %d)", err, len(r.Bytes()), MaxRecordSize)
	}
}
