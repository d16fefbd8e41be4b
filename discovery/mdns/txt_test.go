package mdns

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/peerwire/peerwire/crypto"
)

var (
	idA = strings.Repeat("a1", 20)
	idB = strings.Repeat("b2", 20)
	svc = ServiceName("peerwire")
)

func inst(id string) string { return id + "." + svc + ".local." }

// TestDecode checks what an answer from the network must be to be used.
func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inst   string
		txt    []string
		want   []string // canonical addresses; nil: refused
		reason string   // part of the error
	}{
		{"one IPv4", inst(idA), []string{idA + "@192.168.1.2:26656"}, []string{idA + "@192.168.1.2:26656"}, ""},
		{"IPv6 and IPv4", inst(idA), []string{idA + "@[fd00::2]:1", idA + "@10.0.0.2:2"}, []string{idA + "@[fd00::2]:1", idA + "@10.0.0.2:2"}, ""},
		{"DNS name (the book decides)", inst(idA), []string{idA + "@Node.LAN.:3"}, []string{idA + "@node.lan:3"}, ""},
		{"duplicates once", inst(idA), []string{idA + "@10.0.0.2:2", idA + "@10.0.0.2:2"}, []string{idA + "@10.0.0.2:2"}, ""},
		{"upper-case instance, no final dot", strings.ToUpper(idA) + "." + strings.ToUpper(svc) + ".LOCAL", []string{idA + "@10.0.0.2:2"}, []string{idA + "@10.0.0.2:2"}, ""},
		{"mapped IPv4 unmapped", inst(idA), []string{idA + "@[::ffff:10.0.0.2]:2"}, []string{idA + "@10.0.0.2:2"}, ""},
		{"short ID", inst(idA), []string{idA[:38] + "@10.0.0.2:2"}, nil, "peer ID"},
		{"non-hex ID", inst(idA), []string{"zz" + idA[2:] + "@10.0.0.2:2"}, nil, "peer ID"},
		{"zero ID", inst(strings.Repeat("0", 40)), []string{strings.Repeat("0", 40) + "@10.0.0.2:2"}, nil, "not a peer ID"},
		{"no ID", inst(idA), []string{"10.0.0.2:2"}, nil, "ID@"},
		{"no port", inst(idA), []string{idA + "@10.0.0.2"}, nil, "host:port"},
		{"port 0", inst(idA), []string{idA + "@10.0.0.2:0"}, nil, "port"},
		{"port too big", inst(idA), []string{idA + "@10.0.0.2:65536"}, nil, "port"},
		{"IPv6 zone", inst(idA), []string{idA + "@[fe80::1%eth0]:2"}, nil, "zone"},
		{"bad name", inst(idA), []string{idA + "@bad_host!:2"}, nil, "TXT string 1"},
		{"two IDs", inst(idA), []string{idA + "@10.0.0.2:2", idB + "@10.0.0.3:2"}, nil, "names ID"},
		{"instance is another ID", inst(idB), []string{idA + "@10.0.0.2:2"}, nil, "carries addresses"},
		{"instance not an ID", "node1." + svc + ".local.", []string{idA + "@10.0.0.2:2"}, nil, "not a peer ID"},
		{"another service", idA + "._http._tcp.local.", []string{idA + "@10.0.0.2:2"}, nil, "not an instance"},
		{"another network", inst(idA)[:41] + ServiceName("other") + ".local.", []string{idA + "@10.0.0.2:2"}, nil, "not an instance"},
		{"no TXT", inst(idA), nil, nil, "no TXT"},
		{"empty string", inst(idA), []string{""}, nil, "TXT string 1"},
		{"too many strings", inst(idA), slices.Repeat([]string{idA + "@10.0.0.2:2"}, MaxTXTAddrs+1), nil, "at most"},
		{"string too long", inst(idA), []string{idA + "@" + strings.Repeat("a", 250) + ":2"}, nil, "bytes"},
		{"name too long", strings.Repeat("x", 300), []string{idA + "@10.0.0.2:2"}, nil, "name of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(svc, tc.inst, tc.txt)
			if tc.want == nil {
				if err == nil || !errors.Is(err, ErrRecord) || !strings.Contains(err.Error(), tc.reason) {
					t.Fatalf("Decode = %v, %v; want an ErrRecord about %q", got, err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			var s []string
			for _, a := range got {
				s = append(s, a.String())
			}
			if !slices.Equal(s, tc.want) {
				t.Fatalf("Decode = %v, want %v", s, tc.want)
			}
		})
	}
}

// TestEncodeTXT checks the responder's side and the round trip.
func TestEncodeTXT(t *testing.T) {
	a1, _ := crypto.ParseAddress(idA + "@192.168.1.2:26656")
	a2, _ := crypto.ParseAddress(idA + "@[fd00::2]:26656")
	b1, _ := crypto.ParseAddress(idB + "@192.168.1.3:26656")
	long, err := crypto.ParseAddress(idA + "@" + strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 30) + ":1")
	if err != nil {
		t.Fatal(err)
	}
	txt, err := EncodeTXT([]crypto.Address{a1, a2})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(svc, inst(idA), txt)
	if err != nil || !slices.Equal(got, []crypto.Address{a1, a2}) {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	for name, in := range map[string][]crypto.Address{
		"none":     nil,
		"two IDs":  {a1, b1},
		"too many": slices.Repeat([]crypto.Address{a1}, MaxTXTAddrs+1),
		"too long": {long},
		"zero ID":  {{Host: "10.0.0.1", Port: 1}},
	} {
		if _, err := EncodeTXT(in); err == nil {
			t.Errorf("EncodeTXT(%s) succeeded", name)
		}
	}
}
