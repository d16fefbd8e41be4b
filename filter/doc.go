// Package filter decides which peers a node may talk to. It is the one
// admission point for inbound connections (before the handshake), for every
// dial, and for addresses learned through peer exchange.
//
// A Filter combines:
//
//   - CIDR rules: a deny list, and an optional allow list that, when set,
//     admits only the addresses it contains.
//   - Country rules: a deny list and an optional allow list of ISO 3166-1
//     alpha-2 codes, resolved through a MaxMind-format country database
//     (GeoLite2-Country, GeoIP2-Country, or DB-IP's country databases) read
//     with github.com/oschwald/geoip2-golang/v2. Addresses the database does
//     not place in a country follow Config.UnknownCountry (allow by default).
//     The database is reloaded when its file changes and on Reload, without
//     disturbing checks in flight.
//   - A per-IP throttle of inbound attempts (golang.org/x/time/rate) whose
//     table of tracked addresses is bounded.
//   - Caps on connected peers per IP address and per subnet (IPv4 /24 and
//     IPv6 /48 by default), counted through Acquire and AcquireExempt.
//
// Check applies them in that order and returns a Decision with a Reason; the
// Direction says which parts apply: Inbound (rules, throttle, caps), Outbound
// (rules, caps) and PEX (rules only). IPv4-mapped IPv6 addresses are treated
// as the IPv4 addresses they map, and zones are ignored.
//
// Loopback and private addresses are exempt from the throttle and the caps
// only when Config.ExemptLoopback or ExemptPrivate says so; nothing is exempt
// from the rules. Must-connect peers skip the throttle and caps through
// CheckRules and AcquireExempt.
//
// Check does not allocate once an address's country is cached and is safe
// for concurrent use, as is every method of Filter. The package logs nothing
// unless given a *slog.Logger (Deps.Logger), and then only database
// reloads. Settings are in Config; the clock and the logger, which are
// wiring, are in Deps.
package filter
