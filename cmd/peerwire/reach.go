package main

import (
	"log/slog"
	"strings"

	"github.com/peerwire/peerwire/p2p"
)

// listenList checks the -listen list: "-" alone means no listener (nil);
// otherwise one to p2p.MaxListenAddrs host:port entries.
func listenList(l listFlag) ([]string, error) {
	if len(l) == 1 && l[0] == "-" {
		return nil, nil
	}
	if len(l) == 0 {
		return nil, flagError("listen", "no address (\"-\" to not listen)")
	}
	if len(l) > p2p.MaxListenAddrs {
		return nil, flagError("listen", "%d addresses, at most %d", len(l), p2p.MaxListenAddrs)
	}
	for i, a := range l {
		if err := checkHostPort(a); err != nil {
			if len(l) == 1 {
				return nil, flagError("listen", "%q: %v (or \"-\" to not listen)", a, err)
			}
			return nil, flagError("listen", "entry %d %q: %v", i+1, a, err)
		}
	}
	return l, nil
}

// setListen puts the checked -listen list into cfg: one address is
// p2p.Config.ListenAddr, several are ListenAddrs, none is "-".
func setListen(cfg *p2p.Config, listens []string) {
	switch len(listens) {
	case 0:
		cfg.ListenAddr = "-"
	case 1:
		cfg.ListenAddr = listens[0]
	default:
		cfg.ListenAddrs = listens
	}
}

// logRunning announces the running node. Its "address" is the first
// address peers can dial (an ID@host:port to hand out), never a wildcard
// such as ID@0.0.0.0:26656 or ID@[::]:26656: without one the key is left
// out, and a warning, logged just before, says that no peer can dial in
// — unless a port
// mapping (-nat) may still provide one.
func logRunning(log *slog.Logger, n *p2p.Node, o *nodeOptions, mapping bool) {
	var listen, share []string
	for _, a := range n.ListenAddrs() {
		listen = append(listen, a.HostPort())
	}
	for _, a := range n.AdvertisedAddrs() {
		share = append(share, a.String())
	}
	attrs := []any{"id", n.ID().String()}
	if len(share) > 0 {
		attrs = append(attrs, "address", share[0])
	}
	attrs = append(attrs, "advertise", strings.Join(share, ","), "listen", strings.Join(listen, ","),
		"network", o.network, "chain", o.chain, "role", o.role, "data_dir", o.dataDir)
	// The warning comes first: once the running line is in the log, so is
	// any warning about it (a reader of the log may stop at that line).
	switch {
	case len(share) > 0 || len(listen) == 0:
	case mapping:
		log.Info("no address to advertise until the port mapping holds", "nat", o.nat, "listen", strings.Join(listen, ","))
	default:
		log.Warn("nothing dialable to advertise: the node listens only on unspecified addresses "+
			"and has no -advertise address and no -nat mapping, so peers cannot dial it; "+
			"set -advertise <public-ip>:<port> (or -nat)", "listen", strings.Join(listen, ","))
	}
	log.Info("peerwire node running", attrs...)
}
