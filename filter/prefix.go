package filter

import (
	"net/netip"
	"slices"
)

// prefixSet answers "is this address inside any of these prefixes" with one
// map lookup per distinct prefix length in use, whatever the number of
// prefixes, and without allocating.
type prefixSet struct {
	v4, v6 prefixIndex
}

type prefixIndex struct {
	lens []int // distinct prefix lengths present, ascending
	set  map[netip.Prefix]struct{}
}

func (s *prefixSet) add(p netip.Prefix) {
	idx := &s.v6
	if p.Addr().Is4() {
		idx = &s.v4
	}
	if idx.set == nil {
		idx.set = make(map[netip.Prefix]struct{})
	}
	idx.set[p] = struct{}{}
	if i, found := slices.BinarySearch(idx.lens, p.Bits()); !found {
		idx.lens = slices.Insert(idx.lens, i, p.Bits())
	}
}

// empty reports whether the set holds no prefix.
func (s *prefixSet) empty() bool { return len(s.v4.set) == 0 && len(s.v6.set) == 0 }

// contains reports whether a, which must be unmapped and zone-free, lies
// inside a prefix of the set.
func (s *prefixSet) contains(a netip.Addr) bool {
	idx := &s.v6
	if a.Is4() {
		idx = &s.v4
	}
	for _, bits := range idx.lens {
		p, err := a.Prefix(bits)
		if err != nil {
			continue
		}
		if _, ok := idx.set[p]; ok {
			return true
		}
	}
	return false
}
