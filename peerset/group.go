package peerset

import "net/netip"

// Group returns the network group of ip: its /16 for IPv4 (IPv4-mapped IPv6
// included) and its /32 for IPv6, the ranges one operator can cheaply fill.
// Outbound peers are spread across groups (Config.MaxOutboundPerGroup). It
// returns the zero Prefix for an invalid ip. Group does not allocate.
func Group(ip netip.Addr) netip.Prefix {
	if !ip.IsValid() {
		return netip.Prefix{}
	}
	ip = ip.Unmap().WithZone("")
	bits := GroupBitsIPv6
	if ip.Is4() {
		bits = GroupBitsIPv4
	}
	p, _ := ip.Prefix(bits)
	return p
}
