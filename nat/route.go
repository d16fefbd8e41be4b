package nat

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"
)

// rtfGateway is the RTF_GATEWAY flag of a Linux route: the route goes
// through a gateway.
const rtfGateway = 0x2

// parseRoutes finds the default route's gateway in the text of Linux's
// /proc/net/route: a header line, then one route a line with
// tab-separated fields Iface, Destination, Gateway, Flags, ... where
// addresses are 8 hex digits of the address in host (little-endian)
// byte order and Flags is hex. Malformed lines are skipped.
func parseRoutes(b []byte) (netip.Addr, bool) {
	lines := bytes.Split(b, []byte("\n"))
	for i, line := range lines {
		if i == 0 {
			continue // the header
		}
		f := bytes.Fields(line)
		if len(f) < 4 {
			continue
		}
		dst, ok := hexAddr(f[1])
		if !ok || dst != 0 {
			continue
		}
		flags, err := strconv.ParseUint(string(f[3]), 16, 32)
		if err != nil || flags&rtfGateway == 0 {
			continue
		}
		gw, ok := hexAddr(f[2])
		if !ok || gw == 0 {
			continue
		}
		var a [4]byte
		binary.LittleEndian.PutUint32(a[:], gw)
		return netip.AddrFrom4(a), true
	}
	return netip.Addr{}, false
}

// hexAddr decodes 8 hex digits to the little-endian uint32 they spell.
func hexAddr(s []byte) (uint32, bool) {
	if len(s) != 8 {
		return 0, false
	}
	var a [4]byte
	if _, err := hex.Decode(a[:], s); err != nil {
		return 0, false
	}
	return binary.BigEndian.Uint32(a[:]), true
}
