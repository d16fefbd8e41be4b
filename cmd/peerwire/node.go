package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/p2p/httpapi"
	"github.com/peerwire/peerwire/p2p/metrics"
	"github.com/peerwire/peerwire/peerset"
	"github.com/peerwire/peerwire/proto/pb"
)

// softwareVersion is what the node tells its peers.
const softwareVersion = "peerwire/0.1"

// Defaults of "peerwire node" that are not the library's.
const (
	defaultAdminAddr  = "127.0.0.1:26660"
	defaultListenAddr = "0.0.0.0:26656"
	defaultNetwork    = "peerwire"
	// adminStopTimeout bounds the admin server's graceful shutdown.
	adminStopTimeout = 3 * time.Second
	// nodeStopTimeout bounds the node's goaway flush at shutdown.
	nodeStopTimeout = 10 * time.Second
	// maxTokenFile bounds the admin token file.
	maxTokenFile = 4 << 10
)

// nodeOptions are the flags of "peerwire node".
type nodeOptions struct {
	dataDir        string
	listen         string
	advertise      listFlag
	network, chain string
	role           string
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
	saveInterval   time.Duration
	logLevel       string
	logFormat      string
	admin          string
	adminTokenFile string

	// Resolved from the above.
	adminToken string
	level      slog.Level
}

func defineNodeFlags(fs *flag.FlagSet) *nodeOptions {
	o := &nodeOptions{}
	fs.StringVar(&o.dataDir, "data-dir", "peerwire-data", "directory of the identity key (node.key) and the peer book (peerbook.json); created on first run")
	fs.StringVar(&o.listen, "listen", defaultListenAddr, "TCP address to listen on for peers (\"-\" to not listen)")
	fs.Var(&o.advertise, "advertise", "comma-separated `host:port` addresses peers should dial (default: the listen address unless it is 0.0.0.0 or ::)")
	fs.StringVar(&o.network, "network", defaultNetwork, "network ID; peers with another one are refused")
	fs.StringVar(&o.chain, "chain", "", "chain ID; peers with another one are refused")
	fs.StringVar(&o.role, "role", "full", "this node's role, told to peers: validator, full, seed or light")
	fs.Var(&o.bootstrap, "bootstrap", "comma-separated bootstrap `peers`, ID@host:port (or host:port, trusting whoever answers there)")
	fs.Var(&o.mustConnect, "must-connect", "comma-separated `peers` (ID@host:port) to keep connected: redialed forever, exempt from limits")
	fs.Var(&o.allowCIDRs, "allow-cidrs", "comma-separated `prefixes` (CIDR); when set, only these addresses are admitted")
	fs.Var(&o.denyCIDRs, "deny-cidrs", "comma-separated `prefixes` (CIDR) never admitted")
	fs.Var(&o.allowCountries, "allow-countries", "comma-separated `countries` (ISO codes); when set, only these countries are admitted (needs -geoip-db)")
	fs.Var(&o.denyCountries, "deny-countries", "comma-separated `countries` (ISO codes) never admitted (needs -geoip-db)")
	fs.StringVar(&o.geoipDB, "geoip-db", "", "path of a MaxMind-format country database (.mmdb) for the country rules")
	fs.StringVar(&o.unknownCountry, "unknown-country", "allow", "`policy` for addresses the database places in no country when a country rule is set: allow or deny")
	fs.IntVar(&o.maxInbound, "max-inbound", p2p.DefaultMaxInbound, "most inbound peers, must-connect peers not counted (0: none)")
	fs.IntVar(&o.maxOutbound, "max-outbound", p2p.DefaultMaxOutbound, "outbound peers to keep, must-connect peers not counted (0: none)")
	fs.BoolVar(&o.seed, "seed", false, "seed mode: crawl the network and answer peer exchange, keep no peers")
	fs.BoolVar(&o.allowLoopback, "allow-loopback", false, "local test networks: accept loopback addresses from peer exchange, exempt them from per-IP caps, and drop the one-outbound-peer-per-network-group rule")
	fs.BoolVar(&o.allowPrivate, "allow-private", false, "private networks: accept private addresses (RFC 1918, fc00::/7) from peer exchange and exempt them from per-IP caps")
	fs.BoolVar(&o.allowDNSNames, "allow-dns-names", false, "accept DNS names in addresses from peer exchange and peers' adverts; each is resolved and checked at every dial (names given with -bootstrap and -must-connect are always accepted)")
	fs.DurationVar(&o.saveInterval, "save-interval", p2p.DefaultSaveInterval, "how often the peer book is saved (it is also saved at shutdown)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.admin, "admin", defaultAdminAddr, "admin HTTP API address (\"\" disables it); a non-loopback address requires a token")
	fs.StringVar(&o.adminTokenFile, "admin-token-file", "", "file holding the admin API bearer token (else $PEERWIRE_ADMIN_TOKEN)")
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
	if err := parseFlagsEnv(fs, args, lookup, nil); err != nil {
		return nil, p2p.Config{}, err
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	cfg, err := o.config(lookup)
	return o, cfg, err
}

func (o *nodeOptions) config(lookup lookupEnvFunc) (p2p.Config, error) {
	var cfg p2p.Config
	if strings.TrimSpace(o.dataDir) == "" {
		return cfg, flagError("data-dir", "must not be empty")
	}
	if o.listen != "-" {
		if _, _, err := net.SplitHostPort(o.listen); err != nil {
			return cfg, flagError("listen", "%q: want host:port (or \"-\")", o.listen)
		}
	}
	for i, a := range o.advertise {
		if ad, err := crypto.ParseDialAddress(a); err != nil || !ad.ID.IsZero() {
			return cfg, flagError("advertise", "entry %d %q: want host:port", i+1, a)
		}
	}
	if strings.TrimSpace(o.network) == "" {
		return cfg, flagError("network", "must not be empty")
	}
	role, ok := roleByName[strings.ToLower(o.role)]
	if !ok {
		return cfg, flagError("role", "%q: want validator, full, seed or light", o.role)
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
	unknown, err := filter.ParseUnknownPolicy(o.unknownCountry)
	if err != nil {
		return cfg, flagError("unknown-country", "%q: want allow or deny", o.unknownCountry)
	}
	if o.maxInbound < 0 || o.maxInbound > peerset.MaxPeersLimit {
		return cfg, flagError("max-inbound", "%d: want 0-%d", o.maxInbound, peerset.MaxPeersLimit)
	}
	if o.maxOutbound < 0 || o.maxOutbound > peerset.MaxPeersLimit {
		return cfg, flagError("max-outbound", "%d: want 0-%d", o.maxOutbound, peerset.MaxPeersLimit)
	}
	if o.saveInterval < time.Second/10 {
		return cfg, flagError("save-interval", "%v: want at least 100ms", o.saveInterval)
	}
	if err := o.level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return cfg, flagError("log-level", "%q: want debug, info, warn or error", o.logLevel)
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return cfg, flagError("log-format", "%q: want text or json", o.logFormat)
	}
	if err := o.resolveAdmin(lookup); err != nil {
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
	pc := peerset.Config{MaxInbound: o.maxInbound, MaxOutbound: o.maxOutbound}
	if pc.MaxInbound == 0 {
		pc.MaxInbound = -1
	}
	if pc.MaxOutbound == 0 {
		pc.MaxOutbound = -1
	}
	listen := o.listen
	cfg = p2p.Config{
		DataDir: o.dataDir, ListenAddr: listen, AdvertiseAddrs: o.advertise,
		NetworkID: o.network, ChainID: o.chain, Role: role, SoftwareVersion: softwareVersion,
		Topics: defaultTopics(), Bootstrap: o.bootstrap, MustConnect: o.mustConnect,
		Peers: pc, Filter: fc,
		AllowLoopback: o.allowLoopback, AllowPrivate: o.allowPrivate, AllowNetworkNames: o.allowDNSNames,
		SaveInterval: o.saveInterval, SeedMode: o.seed,
	}
	return cfg, nil
}

// checkFilter validates the filter rules now, so an error names the flag.
func checkFilter(fc filter.Config) error {
	f, err := filter.New(fc, filter.Deps{})
	if err == nil {
		f.Close()
		return nil
	}
	flagOf := map[string]string{
		"AllowCIDRs": "allow-cidrs", "DenyCIDRs": "deny-cidrs", "AllowCountries": "allow-countries",
		"DenyCountries": "deny-countries", "CountryDB": "geoip-db", "UnknownCountry": "unknown-country",
	}
	var ce *filter.ConfigError
	if errors.As(err, &ce) && ce.Field == "CountryDB" && fc.CountryDB == "" {
		return flagError("geoip-db", "required by -allow-countries and -deny-countries")
	}
	if errors.As(err, &ce) {
		if name, ok := flagOf[ce.Field]; ok {
			return flagError(name, "%v", err)
		}
	}
	if fc.CountryDB != "" {
		return flagError("geoip-db", "%v", err)
	}
	return usageError{err}
}

// resolveAdmin reads the admin token and enforces the rule that a
// non-loopback admin address needs one.
func (o *nodeOptions) resolveAdmin(lookup lookupEnvFunc) error {
	if o.admin == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(o.admin)
	if err != nil {
		return flagError("admin", "%q: want host:port, or \"\" to disable", o.admin)
	}
	if o.adminTokenFile != "" {
		b, err := readBounded(o.adminTokenFile, maxTokenFile)
		if err != nil {
			return flagError("admin-token-file", "%v", err)
		}
		o.adminToken = strings.TrimSpace(string(b))
		if o.adminToken == "" {
			return flagError("admin-token-file", "%s is empty", o.adminTokenFile)
		}
	} else if tok, ok := lookup(envPrefix + "ADMIN_TOKEN"); ok {
		o.adminToken = strings.TrimSpace(tok)
	}
	if o.adminToken == "" && !isLoopbackHost(host) {
		return flagError("admin", "%s is not a loopback address: it requires a bearer token (-admin-token-file or %sADMIN_TOKEN)", o.admin, envPrefix)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is over %d bytes", path, limit)
	}
	return b, nil
}

func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runNode(ctx context.Context, args []string, _, stderr io.Writer) error {
	o, cfg, err := parseNode(args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, o.logFormat, o.level)
	cfg.Logger = log
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return flagError("data-dir", "%v", err)
	}
	n, err := p2p.New(cfg)
	if err != nil {
		return err
	}
	if r := n.LoadReport(); r != nil {
		log.Info("peer book loaded", "path", r.Path, "entries", r.Entries, "bans", r.Bans, "dropped", r.Dropped)
		for _, p := range r.Problems {
			log.Warn("peer book file unusable, moved aside", "err", p)
		}
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	// A standalone node has no application: it reads and drops what
	// arrives so that credit flows and gossip keeps being relayed.
	drained := make(chan struct{})
	topics := defaultTopics()
	for _, t := range topics {
		go func() {
			defer func() { drained <- struct{}{} }()
			for range n.Inbox(t.ID) {
			}
		}()
	}
	addr := n.ListenAddr()
	log.Info("peerwire node running", "id", n.ID().String(), "address", addr.String(),
		"network", o.network, "chain", o.chain, "role", o.role, "data_dir", o.dataDir)

	var srv *http.Server
	srvDone := make(chan error, 1)
	if o.admin != "" {
		ln, err := net.Listen("tcp", o.admin)
		if err != nil {
			stopNode(n, log)
			for range topics {
				<-drained
			}
			return flagError("admin", "%v", err)
		}
		h := httpapi.New(n, httpapi.Options{Token: o.adminToken, Metrics: metrics.Handler(n)})
		srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		if o.adminToken != "" {
			log.Info("admin API listening; bearer token required", "addr", ln.Addr().String())
		} else {
			log.Info("admin API listening on loopback without a token", "addr", ln.Addr().String())
		}
		go func() { srvDone <- srv.Serve(ln) }()
	}

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("stopping: goaway to peers, saving the peer book")
	case serveErr = <-srvDone:
		log.Error("admin API stopped", "err", serveErr)
	}
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), adminStopTimeout)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	err = stopNode(n, log)
	for range topics {
		<-drained
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}

func stopNode(n *p2p.Node, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), nodeStopTimeout)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		log.Error("stop", "err", err)
		return err
	}
	log.Info("stopped")
	return nil
}
