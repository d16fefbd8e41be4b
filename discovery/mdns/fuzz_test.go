package mdns

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/peerwire/peerwire/crypto"
)

// FuzzDecode feeds arbitrary instance names and TXT strings (the fuzz
// bytes split at each NUL) to Decode, the check every answer from the
// network passes. It must never panic, and what it accepts must be
// canonical, within bounds, of the instance's ID, and survive EncodeTXT.
func FuzzDecode(f *testing.F) {
	join := func(s ...string) []byte { return []byte(strings.Join(s, "\x00")) }
	f.Add(inst(idA), join(idA+"@192.168.1.2:26656"))
	f.Add(inst(idA), join(idA+"@[fd00::2]:1", idA+"@10.0.0.2:2", idA+"@node.lan:3"))
	f.Add(inst(idA), join(idA+"@10.0.0.2:2", idB+"@10.0.0.3:2"))
	f.Add(inst(idB), join(idA+"@10.0.0.2:2"))
	f.Add(strings.ToUpper(inst(idA)), join(idA+"@[::ffff:10.0.0.2]:2"))
	f.Add(idA+"._http._tcp.local.", join(idA+"@10.0.0.2:2"))
	f.Add(inst(idA), join(idA+"@[fe80::1%eth0]:2", "", "x"))
	f.Add(inst(idA), bytes.Repeat(join(idA+"@10.0.0.2:2", ""), MaxTXTAddrs))
	f.Add("", []byte{})
	f.Fuzz(func(t *testing.T, name string, raw []byte) {
		var txt []string
		if len(raw) > 0 {
			txt = strings.Split(string(raw), "\x00")
		}
		addrs, err := Decode(svc, name, txt)
		if err != nil {
			return
		}
		if len(addrs) == 0 || len(addrs) > MaxTXTAddrs {
			t.Fatalf("%d addresses", len(addrs))
		}
		id := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(name), "."), "."+svc+".local"))
		for _, a := range addrs {
			if a.ID.String() != id {
				t.Fatalf("address %v, instance %q", a, name)
			}
			if p, err := crypto.ParseAddress(a.String()); err != nil || p != a {
				t.Fatalf("%v is not canonical: %v %v", a, p, err)
			}
		}
		enc, err := EncodeTXT(addrs)
		if err != nil {
			t.Fatalf("EncodeTXT of accepted addresses: %v", err)
		}
		again, err := Decode(svc, inst(id), enc)
		if err != nil || !slices.Equal(again, addrs) {
			t.Fatalf("re-decoded %v, %v; want %v", again, err, addrs)
		}
	})
}
