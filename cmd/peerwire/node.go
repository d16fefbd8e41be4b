package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/discovery/mdns"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/nat"
	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/peerset"
	"github.com/peerwire/peerwire/proto/pb"
)

// softwareVersion is what the node tells its peers.
const softwareVersion = "peerwire/0.1"

// Defaults of "peerwire node" that are not the library's.
const (
	// defaultAdminAddr is the admin API. Not 26660: CometBFT serves its
	// Prometheus metrics there, and the two often share a host.
	defaultAdminAddr  = "127.0.0.1:26670"
	defaultListenAddr = "0.0.0.0:26656"
	defaultNetwork    = "peerwire"
	// adminStopTimeout bounds the admin server's graceful shutdown.
	adminStopTimeout = 3 * time.Second
	// nodeStopTimeout bounds the node's goaway flush at shutdown.
	nodeStopTimeout = 10 * time.Second
	// maxTokenFile bounds the admin and metrics token files.
	maxTokenFile = 4 << 10
	// maxIDLength is the longest network or chain ID, in bytes: the
	// handshake's limit (docs/PROTOCOL.md, conn's maxMetaString).
	maxIDLength = 64
)

// nodeOptions are the flags of "peerwire node".
type nodeOptions struct {
	home           string
	configPath     string
	dataDir        string
	listen         listFlag
	advertise      listFlag
	network, chain string
	role           string
	blockGossip    string
	bootstrap      listFlag
	mustConnect    listFlag
	allowCIDRs     listFlag
	denyCIDRs      listFlag
	allowCountries listFlag
	denyCountries  listFlag
	geoipDB        string
	unknownCountry string
	maxInbound     int
	maxOutbound    int
	seed           bool
	allowLoopback  bool
	allowPrivate   bool
	allowDNSNames  bool
	mdns           bool
	mdnsInterval   time.Duration
	mdnsInterface  string
	saveInterval   time.Duration
	logLevel       string
	logFormat      string
	noPeersWarn    time.Duration
	admin          string
	adminTokenFile string
	nat            string
	dht            string
	metrics        string
	metricsToken   string // the file's path until resolved

	// Resolved from the above.
	adminToken   string
	metricsTok   string
	levels       logLevels
	configLoaded bool    // configPath was read
	src          sources // where each setting came from
}

func defineNodeFlags(fs *flag.FlagSet) *nodeOptions {
	o := &nodeOptions{}
	fs.StringVar(&o.home, "home", "", "home `directory` of the config file and the data directory (default: $PEERWIRE_HOME, else ~/.peerwire)")
	fs.StringVar(&o.configPath, "config", "", "config `file` (default: <home>/config.toml, read when it exists; see \"peerwire init\")")
	fs.StringVar(&o.dataDir, "data-dir", "", "directory of the identity key (node.key) and the peer book (peerbook.json); created on first run (default: <home>/data)")
	o.listen = listFlag{defaultListenAddr}
	fs.Var(&o.listen, "listen", "comma-separated TCP `addresses` to listen on for peers, e.g. 0.0.0.0:26656,[::]:26656 (\"-\" to not listen)")
	fs.Var(&o.advertise, "advertise", "comma-separated `host:port` addresses peers should dial (default: the listen address unless it is 0.0.0.0 or ::)")
	fs.StringVar(&o.network, "network", defaultNetwork, "network ID; peers with another one are refused")
	fs.StringVar(&o.chain, "chain", "", "chain ID; peers with another one are refused")
	fs.StringVar(&o.role, "role", "full", "this node's role, told to peers: validator, full, seed or light")
	fs.StringVar(&o.blockGossip, "block-gossip", blockGossipChunked, blockGossipUsage)
	fs.Var(&o.bootstrap, "bootstrap", "comma-separated bootstrap `peers`, ID@host:port (or host:port, trusting whoever answers there)")
	fs.Var(&o.mustConnect, "must-connect", "comma-separated `peers` (ID@host:port) to keep connected: redialed forever, exempt from limits")
	fs.Var(&o.allowCIDRs, "allow-cidrs", "comma-separated `prefixes` (CIDR); when set, only these addresses are admitted")
	fs.Var(&o.denyCIDRs, "deny-cidrs", "comma-separated `prefixes` (CIDR) never admitted")
	fs.Var(&o.allowCountries, "allow-countries", "comma-separated `countries` (ISO codes); when set, only these countries are admitted (needs -geoip-db)")
	fs.Var(&o.denyCountries, "deny-countries", "comma-separated `countries` (ISO codes) never admitted (needs -geoip-db)")
	fs.StringVar(&o.geoipDB, "geoip-db", "", "path of a MaxMind-format country database (.mmdb) for the country rules")
	fs.StringVar(&o.unknownCountry, "unknown-country", "allow", "`policy` for addresses the database places in no country when a country rule is set: allow or deny")
	fs.IntVar(&o.maxInbound, "max-inbound", p2p.DefaultMaxInbound, "most inbound peers, must-connect peers not counted (-1: none; 0: the default, as in p2p.Config.Peers)")
	fs.IntVar(&o.maxOutbound, "max-outbound", p2p.DefaultMaxOutbound, "outbound peers to keep, must-connect peers not counted (-1: none; 0: the default, as in p2p.Config.Peers)")
	fs.BoolVar(&o.seed, "seed", false, "seed mode: crawl the network and answer peer exchange, keep no peers")
	fs.BoolVar(&o.allowLoopback, "allow-loopback", false, "local test networks: accept loopback addresses from peer exchange, exempt them from per-IP caps, and drop the one-outbound-peer-per-network-group rule")
	fs.BoolVar(&o.allowPrivate, "allow-private", false, "private networks: accept private addresses (RFC 1918, fc00::/7) from peer exchange and exempt them from per-IP caps")
	fs.BoolVar(&o.allowDNSNames, "allow-dns-names", false, "accept DNS names in addresses from peer exchange and peers' adverts; each is resolved and checked at every dial (names given with -bootstrap and -must-connect are always accepted)")
	fs.BoolVar(&o.mdns, "mdns", false, "find peers on the local network by multicast DNS (service _peerwire-<network>._tcp): answers are hints, dialed with the ID they name and never shared through peer exchange")
	fs.DurationVar(&o.mdnsInterval, "mdns-interval", mdns.DefaultInterval, "how often -mdns queries the local network (1s-1h)")
	fs.StringVar(&o.mdnsInterface, "mdns-interface", "", "network `interface` for -mdns, e.g. eth0 (default: the system's multicast interface)")
	fs.DurationVar(&o.saveInterval, "save-interval", p2p.DefaultSaveInterval, "how often the peer book is saved (it is also saved at shutdown)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `levels`: debug, info, warn or error, for every component, or per component as component=level, e.g. p2p=debug,info (components: "+strings.Join(logComponents, ", ")+")")
	fs.DurationVar(&o.noPeersWarn, "no-peers-warn", p2p.DefaultNoPeersWarn, "how long the node may have no peers before it logs a WARN and /healthz answers 503 degraded (negative: never)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.admin, "admin", defaultAdminAddr, "admin HTTP API address (\"\" disables it); a non-loopback address requires a token")
	fs.StringVar(&o.adminTokenFile, "admin-token-file", "", "file holding the admin API bearer token, mode 0600 or stricter (else $PEERWIRE_ADMIN_TOKEN)")
	fs.StringVar(&o.metrics, "metrics", "", "`address` of a read-only Prometheus /metrics listener (\"\" disables it); a non-loopback address requires a token")
	fs.StringVar(&o.metricsToken, "metrics-token-file", "", "file holding the /metrics bearer token, mode 0600 or stricter (else $PEERWIRE_METRICS_TOKEN)")
	fs.StringVar(&o.dht, "dht", "off", "Kademlia DHT `mode`: off, client (lookups only), server (lookups and answers) or auto (server while the dial-back verdict is public, client while private; until a verdict, server when listening on a routable address or one -allow-loopback / -allow-private allows)")
	fs.StringVar(&o.nat, "nat", "none", "port mapping on the router in front of the node: "+nat.Modes+
		" (any tries UPnP then NAT-PMP; extip:IP maps nothing and advertises IP with the listen port)")
	return o
}

var roleByName = map[string]pb.NodeRole{
	"validator": pb.NodeRole_NODE_ROLE_VALIDATOR,
	"full":      pb.NodeRole_NODE_ROLE_FULL,
	"seed":      pb.NodeRole_NODE_ROLE_SEED,
	"light":     pb.NodeRole_NODE_ROLE_LIGHT,
}

// parseNode parses "peerwire node" arguments with environment fallbacks
// and returns the options and the node configuration (without a logger).
// Every error names the flag it is about.
func parseNode(args []string, lookup lookupEnvFunc, stderr io.Writer) (*nodeOptions, p2p.Config, error) {
	fs := newEnvFlagSet("node", "Runs one peerwire node until SIGINT or SIGTERM (a second signal forces exit).", stderr)
	o := defineNodeFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return nil, p2p.Config{}, err
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if err := o.layer(fs, lookup); err != nil {
		return nil, p2p.Config{}, err
	}
	cfg, err := o.config(lookup)
	return o, cfg, o.src.locate(err)
}

// layer applies, to every flag not on the command line, its environment
// variable if set, else its config file key if set (flag > environment >
// file > default), and records where each value came from.
func (o *nodeOptions) layer(fs *flag.FlagSet, lookup lookupEnvFunc) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	o.src = sources{}
	home, where, err := homeDir(o.home, given["home"], lookup)
	if err != nil {
		return err
	}
	o.home = home
	if where != "" {
		o.src["home"] = where
	}
	explicit := given["config"]
	if !explicit {
		if v, ok := lookup(envName("config")); ok {
			o.configPath, explicit = v, true
			o.src["config"] = envName("config")
		} else {
			o.configPath = filepath.Join(home, configFileName)
		}
	}
	if strings.TrimSpace(o.configPath) == "" {
		return o.src.locate(flagError("config", "must not be empty"))
	}
	var file map[string]fileValue
	if _, serr := os.Stat(o.configPath); serr == nil || explicit {
		file, err = readConfigFile(o.configPath, fs, map[string]bool{"home": true, "config": true})
		if errors.Is(err, os.ErrNotExist) {
			return o.src.locate(usageError{&settingError{flag: "config", msg: err.Error()}})
		}
		if err != nil {
			return usageError{err}
		}
		o.configLoaded = true
	}
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] || f.Name == "home" || f.Name == "config" {
			return
		}
		var v, from string
		if ev, ok := lookup(envName(f.Name)); ok {
			v, from = ev, envName(f.Name)
		} else if fv, ok := file[f.Name]; ok {
			v, from = fv.value, fmt.Sprintf("%s:%d: %s", o.configPath, fv.line, fileKey(f.Name))
		} else {
			return
		}
		o.src[f.Name] = from
		if serr := fs.Set(f.Name, v); serr != nil {
			err = usageError{&settingError{flag: f.Name, where: from, msg: fmt.Sprintf("invalid value %q: %v", v, serr)}}
		}
	})
	if err != nil {
		return err
	}
	if !given["data-dir"] && o.src["data-dir"] == "" {
		o.dataDir = filepath.Join(home, dataDirName)
	}
	return nil
}

func (o *nodeOptions) config(lookup lookupEnvFunc) (p2p.Config, error) {
	var cfg p2p.Config
	if strings.TrimSpace(o.dataDir) == "" {
		return cfg, flagError("data-dir", "must not be empty")
	}
	listens, err := listenList(o.listen)
	if err != nil {
		return cfg, err
	}
	for i, a := range o.advertise {
		if ad, err := crypto.ParseDialAddress(a); err != nil || !ad.ID.IsZero() {
			return cfg, flagError("advertise", "entry %d %q: want host:port", i+1, a)
		}
	}
	if strings.TrimSpace(o.network) == "" {
		return cfg, flagError("network", "must not be empty")
	}
	if len(o.network) > maxIDLength {
		return cfg, flagError("network", "%d bytes: at most %d", len(o.network), maxIDLength)
	}
	if len(o.chain) > maxIDLength {
		return cfg, flagError("chain", "%d bytes: at most %d", len(o.chain), maxIDLength)
	}
	role, ok := roleByName[strings.ToLower(o.role)]
	if !ok {
		return cfg, flagError("role", "%q: want validator, full, seed or light", o.role)
	}
	blocks, err := parseBlockGossip("block-gossip", o.blockGossip)
	if err != nil {
		return cfg, err
	}
	for i, a := range o.bootstrap {
		if _, err := crypto.ParseDialAddress(a); err != nil {
			return cfg, flagError("bootstrap", "entry %d: %v", i+1, err)
		}
	}
	for i, a := range o.mustConnect {
		if _, err := crypto.ParseAddress(a); err != nil {
			return cfg, flagError("must-connect", "entry %d: %v", i+1, err)
		}
	}
	dhtMode, err := p2p.ParseDHTMode(o.dht)
	if err != nil {
		return cfg, flagError("dht", "%q: want off, client, server or auto", o.dht)
	}
	unknown, err := filter.ParseUnknownPolicy(o.unknownCountry)
	if err != nil {
		return cfg, flagError("unknown-country", "%q: want allow or deny", o.unknownCountry)
	}
	if o.maxInbound < -1 || o.maxInbound > peerset.MaxPeersLimit {
		return cfg, flagError("max-inbound", "%d: want -1 (none), 0 (default) or 1-%d", o.maxInbound, peerset.MaxPeersLimit)
	}
	if o.maxOutbound < -1 || o.maxOutbound > peerset.MaxPeersLimit {
		return cfg, flagError("max-outbound", "%d: want -1 (none), 0 (default) or 1-%d", o.maxOutbound, peerset.MaxPeersLimit)
	}
	if o.mdnsInterval < mdns.MinInterval || o.mdnsInterval > mdns.MaxInterval {
		return cfg, flagError("mdns-interval", "%v: want %v-%v", o.mdnsInterval, mdns.MinInterval, mdns.MaxInterval)
	}
	if o.saveInterval < time.Second/10 {
		return cfg, flagError("save-interval", "%v: want at least 100ms", o.saveInterval)
	}
	if o.levels, err = parseLogLevels(o.logLevel); err != nil {
		return cfg, flagError("log-level", "%v", err)
	}
	if o.noPeersWarn > 0 && o.noPeersWarn < time.Second {
		return cfg, flagError("no-peers-warn", "%v: want at least 1s, or 0 for the default, or a negative duration for never", o.noPeersWarn)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return cfg, flagError("log-format", "%q: want text or json", o.logFormat)
	}
	if err := o.resolveAdmin(lookup); err != nil {
		return cfg, err
	}
	// The Mapper made here is unstarted and holds nothing; runNode makes
	// the one it runs again, with the logger.
	mapper, err := nat.Parse(o.nat, nat.Config{})
	if err != nil {
		return cfg, usageError{&settingError{flag: "nat", msg: strings.TrimPrefix(err.Error(), "-nat ")}}
	}
	if mapper != nil && len(listens) == 0 {
		return cfg, flagError("nat", "%q needs a listen address, and -listen is \"-\"", o.nat)
	}
	if err := o.resolveMetrics(lookup); err != nil {
		return cfg, err
	}

	fc := filter.Config{
		AllowCIDRs: o.allowCIDRs, DenyCIDRs: o.denyCIDRs,
		AllowCountries: o.allowCountries, DenyCountries: o.denyCountries,
		CountryDB: o.geoipDB, UnknownCountry: unknown,
	}
	if err := checkFilter(fc); err != nil {
		return cfg, err
	}
	// The flags mean what the library's fields mean: 0 the default, -1 none.
	// -allow-loopback is Config.AllowLoopback alone: the node spreads it
	// (no per-group outbound limit among them; p2p.TestIntentsSpread).
	pc := peerset.Config{MaxInbound: o.maxInbound, MaxOutbound: o.maxOutbound}
	cfg = p2p.Config{
		DataDir: o.dataDir, AdvertiseAddrs: o.advertise,
		NetworkID: o.network, ChainID: o.chain, Role: role, SoftwareVersion: softwareVersion,
		Topics: defaultTopics(blocks), Bootstrap: o.bootstrap, MustConnect: o.mustConnect,
		Peers: pc, Filter: fc,
		AllowLoopback: o.allowLoopback, AllowPrivate: o.allowPrivate, AllowNetworkNames: o.allowDNSNames,
		SaveInterval: o.saveInterval, SeedMode: o.seed, NAT: mapper, NoPeersWarn: o.noPeersWarn,
		MDNS: p2p.MDNSConfig{Enabled: o.mdns, Interval: o.mdnsInterval, Interface: o.mdnsInterface},
		DHT:  p2p.DHTConfig{Mode: dhtMode},
	}
	setListen(&cfg, listens)
	return cfg, nil
}
