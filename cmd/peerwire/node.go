package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/filter"
	"github.com/peerwire/peerwire/nat"
	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/p2p/httpapi"
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
	nat            string
	metrics        string
	metricsToken   string // the file's path until resolved

	// Resolved from the above.
	adminToken   string
	metricsTok   string
	level        slog.Level
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
	fs.DurationVar(&o.saveInterval, "save-interval", p2p.DefaultSaveInterval, "how often the peer book is saved (it is also saved at shutdown)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.admin, "admin", defaultAdminAddr, "admin HTTP API address (\"\" disables it); a non-loopback address requires a token")
	fs.StringVar(&o.adminTokenFile, "admin-token-file", "", "file holding the admin API bearer token, mode 0600 or stricter (else $PEERWIRE_ADMIN_TOKEN)")
	fs.StringVar(&o.metrics, "metrics", "", "`address` of a read-only Prometheus /metrics listener (\"\" disables it); a non-loopback address requires a token")
	fs.StringVar(&o.metricsToken, "metrics-token-file", "", "file holding the /metrics bearer token, mode 0600 or stricter (else $PEERWIRE_METRICS_TOKEN)")
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
	if o.maxInbound < -1 || o.maxInbound > peerset.MaxPeersLimit {
		return cfg, flagError("max-inbound", "%d: want -1 (none), 0 (default) or 1-%d", o.maxInbound, peerset.MaxPeersLimit)
	}
	if o.maxOutbound < -1 || o.maxOutbound > peerset.MaxPeersLimit {
		return cfg, flagError("max-outbound", "%d: want -1 (none), 0 (default) or 1-%d", o.maxOutbound, peerset.MaxPeersLimit)
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
	// The Mapper made here is unstarted and holds nothing; runNode makes
	// the one it runs again, with the logger.
	mapper, err := nat.Parse(o.nat, nat.Config{})
	if err != nil {
		return cfg, usageError{err}
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
	pc := peerset.Config{MaxInbound: o.maxInbound, MaxOutbound: o.maxOutbound}
	if o.allowLoopback {
		pc.MaxOutboundPerGroup = -1
	}
	cfg = p2p.Config{
		DataDir: o.dataDir, AdvertiseAddrs: o.advertise,
		NetworkID: o.network, ChainID: o.chain, Role: role, SoftwareVersion: softwareVersion,
		Topics: defaultTopics(), Bootstrap: o.bootstrap, MustConnect: o.mustConnect,
		Peers: pc, Filter: fc,
		AllowLoopback: o.allowLoopback, AllowPrivate: o.allowPrivate, AllowNetworkNames: o.allowDNSNames,
		SaveInterval: o.saveInterval, SeedMode: o.seed, NAT: mapper,
	}
	setListen(&cfg, listens)
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
	if err := checkHostPort(o.admin); err != nil {
		return flagError("admin", "%q: %v, or \"\" to disable", o.admin, err)
	}
	host, _, _ := net.SplitHostPort(o.admin)
	var err error
	if o.adminToken, err = readToken("admin-token-file", o.adminTokenFile, envPrefix+"ADMIN_TOKEN", lookup); err != nil {
		return err
	}
	if o.adminToken == "" && !isLoopbackHost(host) {
		return flagError("admin", "%s is not a loopback address: it requires a bearer token (-admin-token-file or %sADMIN_TOKEN)", o.admin, envPrefix)
	}
	return nil
}

// resolveMetrics is resolveAdmin for the metrics listener, whose token
// is its own.
func (o *nodeOptions) resolveMetrics(lookup lookupEnvFunc) error {
	if o.metrics == "" {
		return nil
	}
	if err := checkHostPort(o.metrics); err != nil {
		return flagError("metrics", "%q: %v, or \"\" to disable", o.metrics, err)
	}
	host, _, _ := net.SplitHostPort(o.metrics)
	var err error
	if o.metricsTok, err = readToken("metrics-token-file", o.metricsToken, envPrefix+"METRICS_TOKEN", lookup); err != nil {
		return err
	}
	if o.metricsTok == "" && !isLoopbackHost(host) {
		return flagError("metrics", "%s is not a loopback address: it requires a bearer token (-metrics-token-file or %sMETRICS_TOKEN)", o.metrics, envPrefix)
	}
	return nil
}

// readToken reads a bearer token from the file named by the flag, else
// from the variable. The file must not be readable by group or others,
// like the key file.
func readToken(flagName, path, variable string, lookup lookupEnvFunc) (string, error) {
	if path == "" {
		tok, _ := lookup(variable)
		return strings.TrimSpace(tok), nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", flagError(flagName, "%v", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", flagError(flagName, "%s has mode %04o: readable by others; chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := readBounded(path, maxTokenFile)
	if err != nil {
		return "", flagError(flagName, "%v", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", flagError(flagName, "%s is empty", path)
	}
	return tok, nil
}

// checkHostPort checks a host:port listen address; the port is 0-65535
// (0: any free port).
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q: want 0-65535", port)
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
	if cfg.NAT, err = nat.Parse(o.nat, nat.Config{Logger: log}); err != nil {
		return usageError{err}
	}
	if o.configLoaded {
		log.Info("config file read", "path", o.configPath)
	}
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return o.src.locate(flagError("data-dir", "%v", err))
	}
	// Every listener is bound before the node announces it is running; a
	// port that is taken is exit status 3, naming its flag.
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	bind := func(flagName, addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll()
			return nil, bindError{o.src.locate(&settingError{flag: flagName, msg: err.Error()})}
		}
		lns = append(lns, ln)
		return ln, nil
	}
	var adminLn, metricsLn net.Listener
	if o.admin != "" {
		if adminLn, err = bind("admin", o.admin); err != nil {
			return err
		}
	}
	if o.metrics != "" {
		if metricsLn, err = bind("metrics", o.metrics); err != nil {
			return err
		}
	}
	n, err := p2p.New(cfg)
	if err != nil {
		closeAll()
		return o.libError(err)
	}
	if r := n.LoadReport(); r != nil {
		log.Info("peer book loaded", "path", r.Path, "entries", r.Entries, "bans", r.Bans, "dropped", r.Dropped)
		for _, p := range r.Problems {
			log.Warn("peer book file unusable, moved aside", "err", p)
		}
	}
	if err := n.Start(ctx); err != nil {
		closeAll()
		return o.libError(err)
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
	prom := metricsHandler(n)
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	var servers []*http.Server
	srvDone := make(chan error, 2)
	serve := func(ln net.Listener, h http.Handler) {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: errLog}
		servers = append(servers, srv)
		go func() { srvDone <- srv.Serve(ln) }()
	}
	if adminLn != nil {
		serve(adminLn, httpapi.New(n, httpapi.Options{Token: o.adminToken, Metrics: prom}))
		if o.adminToken != "" {
			log.Info("admin API listening; bearer token required", "addr", adminLn.Addr().String())
		} else {
			log.Info("admin API listening on loopback without a token", "addr", adminLn.Addr().String())
		}
	}
	if metricsLn != nil {
		serve(metricsLn, metricsOnly(prom, o.metricsTok))
		log.Info("metrics listening (GET /metrics only)", "addr", metricsLn.Addr().String(), "token_required", o.metricsTok != "")
	}
	logRunning(log, n, o, cfg.NAT != nil) // reach.go

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("stopping: goaway to peers, saving the peer book")
	case serveErr = <-srvDone:
		log.Error("HTTP listener stopped", "err", serveErr)
	}
	for _, srv := range servers {
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

// metricsOnly serves GET /metrics and nothing else; with a token, only
// to requests bearing it.
func metricsOnly(h http.Handler, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "read-only: GET /metrics", http.StatusMethodNotAllowed)
			return
		}
		if token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="peerwire metrics"`)
				http.Error(w, "bearer token required", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// libFields maps the library's configuration fields, as its errors name
// them, to the flags they come from; longer names first.
var libFields = []struct{ field, flag string }{
	{"SecureConfig.NetworkID", "network"},
	{"SecureConfig.ChainID", "chain"},
	{"Config.ListenAddr", "listen"},
	{"Config.AdvertiseAddrs", "advertise"},
	{"Config.NetworkID", "network"},
	{"Config.ChainID", "chain"},
	{"Config.Bootstrap", "bootstrap"},
	{"Config.MustConnect", "must-connect"},
	{"Config.SaveInterval", "save-interval"},
	{"Config.MaxInbound", "max-inbound"},
	{"Config.MaxOutbound", "max-outbound"},
	{"Config.DataDir", "data-dir"},
}

// libError turns an error of p2p.New or Start into one naming the flag
// (or variable, or file line) its value came from: a listener that
// cannot be bound is a bindError, a field the library refuses a usage
// error; anything else is returned as it is (exit status 1).
func (o *nodeOptions) libError(err error) error {
	for _, lf := range libFields {
		if !strings.Contains(err.Error(), lf.field) {
			continue
		}
		var oe *net.OpError
		if lf.flag == "listen" && errors.As(err, &oe) && oe.Op == "listen" {
			return bindError{o.src.locate(&settingError{flag: "listen", msg: oe.Error()})}
		}
		msg := err.Error()
		if _, rest, ok := strings.Cut(msg, lf.field); ok {
			msg = strings.TrimLeft(rest, ": ")
		}
		if lf.flag == "data-dir" {
			return o.src.locate(&settingError{flag: lf.flag, msg: msg})
		}
		return o.src.locate(usageError{&settingError{flag: lf.flag, msg: msg}})
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
