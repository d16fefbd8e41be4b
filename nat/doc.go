// Package nat opens the node's listen port on the home router in front of
// it and tells the node the address the world can dial it at.
//
// A Mapper keeps one TCP port mapping alive: it discovers the gateway (one
// discovery at a time in the whole process, as some routers break on
// parallel SSDP searches), asks for a mapping with a lease, renews it at
// half the lease, learns the gateway's external IP, re-maps after a router
// restart (a failed renewal drops the gateway and discovers it again, with
// a doubling wait capped at Config.MaxBackoff) and removes the mapping at
// Close.
//
// Parse turns the operator's mode, as in geth, into a Mapper:
//
//	any          UPnP IGD, then NAT-PMP, whichever answers first
//	upnp         UPnP IGD found by SSDP
//	upnp:URL     UPnP IGD at a known root device description URL
//	pmp          NAT-PMP at the default gateway
//	pmp:IP       NAT-PMP at the gateway IP
//	extip:IP     no mapping: the operator forwarded the port and says
//	             the node is reachable at IP
//	none         no mapping (Parse returns a nil Mapper)
package nat
