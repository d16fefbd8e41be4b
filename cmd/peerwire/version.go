package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/peerwire/peerwire/conn"
	"github.com/peerwire/peerwire/p2p/metrics"
)

// stampedVersion and stampedCommit, when set at link time
// (-ldflags "-X main.stampedVersion=v0.2.0 -X main.stampedCommit=abc"),
// stand in for what the build info lacks: a build from a source tree
// without .git (a Docker build context) carries no VCS stamp.
var stampedVersion, stampedCommit string

// build describes this binary.
type build struct {
	Version   string // module version, "(devel)" for a source build
	Commit    string // VCS revision, "" when not stamped
	Modified  bool   // the work tree had uncommitted changes
	GoVersion string
	Protocol  int // conn.ProtocolVersion
}

// buildInfo reads the binary's build information.
func buildInfo() build {
	b := build{Version: "(unknown)", GoVersion: runtime.Version(), Protocol: conn.ProtocolVersion}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b.stamped()
	}
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b.stamped()
}

func (b build) stamped() build {
	if stampedVersion != "" {
		b.Version = stampedVersion
	}
	if stampedCommit != "" {
		b.Commit, b.Modified = stampedCommit, false
	}
	return b
}

func (b build) commitText() string {
	switch {
	case b.Commit == "":
		return "unknown (built without VCS stamping)"
	case b.Modified:
		return b.Commit + " (modified)"
	}
	return b.Commit
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	b := buildInfo()
	fmt.Fprintf(stdout, "peerwire %s\ncommit:   %s\ngo:       %s\nprotocol: %d\nsoftware: %s\n",
		b.Version, b.commitText(), b.GoVersion, b.Protocol, softwareVersion)
	return nil
}

// buildInfoGauge is the peerwire_build_info metric: always 1, the build
// in its labels.
func buildInfoGauge() prometheus.Collector {
	b := buildInfo()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: metrics.Namespace, Name: "build_info",
		Help: "Always 1; labels describe the running binary (module version, VCS commit, Go version, wire protocol version).",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": b.GoVersion,
			"protocol": strconv.Itoa(b.Protocol)},
	})
	g.Set(1)
	return g
}

// metricsHandler serves the node's metrics plus the Go runtime, process
// and build-info collectors, from a registry of its own.
func metricsHandler(src metrics.Source) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(src), buildInfoGauge(),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
