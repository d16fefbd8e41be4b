package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/peerwire/peerwire/nat"
	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/p2p/httpapi"
)

// Running the node: logger, listeners, the node, the HTTP servers, shutdown.

func runNode(ctx context.Context, args []string, _, stderr io.Writer) error {
	o, cfg, err := parseNode(args, os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	root := newLogger(stderr, o.logFormat, o.levels)
	cfg.Logger = root // the library adds component=p2p, conn, book, filter
	log := root.With("component", "node")
	if cfg.NAT, err = nat.Parse(o.nat, nat.Config{Logger: root.With("component", "nat")}); err != nil {
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
	for _, t := range cfg.Topics {
		go func() {
			defer func() { drained <- struct{}{} }()
			for range n.Inbox(t.ID) {
			}
		}()
	}
	prom := metricsHandler(n)
	errLog := slog.NewLogLogger(root.With("component", "api").Handler(), slog.LevelWarn)
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
	for range cfg.Topics {
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
