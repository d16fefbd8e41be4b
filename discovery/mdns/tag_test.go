package mdns

import (
	"strings"
	"testing"
)

// TestTag checks the network tag: a plain label is kept, anything else is
// made a label plus a hash, always within DNS label rules, and distinct
// network IDs give distinct tags.
func TestTag(t *testing.T) {
	long := strings.Repeat("a", 41)
	for _, tc := range []struct{ id, want string }{
		{"peerwire", "peerwire"},
		{"cosmoshub-4", "cosmoshub-4"},
		{"Peerwire", "peerwire-"},
		{"main.net/v2", "main-net-v2-"},
		{"-lead", "lead-"},
		{"--", ""},
		{"é", ""},
		{long, strings.Repeat("a", 40) + "-"},
		{strings.Repeat("a", 40), strings.Repeat("a", 40)},
	} {
		got := Tag(tc.id)
		if tc.want == tc.id {
			if got != tc.id {
				t.Errorf("Tag(%q) = %q, want it unchanged", tc.id, got)
			}
		} else if !strings.HasPrefix(got, tc.want) || len(got) != len(tc.want)+tagHashHex {
			t.Errorf("Tag(%q) = %q, want %q + %d hex digits", tc.id, got, tc.want, tagHashHex)
		}
		checkLabel(t, servicePrefix+got)
	}
	seen := map[string]string{}
	for _, id := range []string{"peerwire", "Peerwire", "PEERWIRE", "peer.wire", "peer-wire", "peer_wire", long, long + "b", "", "x"} {
		tag := Tag(id)
		if prev, dup := seen[tag]; dup {
			t.Errorf("Tag(%q) = Tag(%q) = %q", id, prev, tag)
		}
		seen[tag] = id
	}
	if got := ServiceName("peerwire"); got != "_peerwire-peerwire._tcp" {
		t.Errorf("ServiceName = %q", got)
	}
}

// checkLabel fails t unless s is one DNS label of 1-63 bytes of letters,
// digits, hyphens and a leading underscore.
func checkLabel(t *testing.T, s string) {
	t.Helper()
	if len(s) < 1 || len(s) > 63 {
		t.Fatalf("label %q is %d bytes", s, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || (i == 0 && c == '_')) {
			t.Fatalf("label %q has byte %q", s, c)
		}
	}
	if s[len(s)-1] == '-' {
		t.Fatalf("label %q ends in a hyphen", s)
	}
}

// FuzzTag checks that every network ID gives a valid, stable label.
func FuzzTag(f *testing.F) {
	for _, s := range []string{"peerwire", "Main Net", "", "-", strings.Repeat("x-", 60), "\xff\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		tag := Tag(id)
		checkLabel(t, servicePrefix+tag)
		if Tag(id) != tag {
			t.Fatal("Tag is not stable")
		}
	})
}
