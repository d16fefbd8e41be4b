package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
)

// logComponents are the values of the component attribute every line of
// "peerwire node" carries, which -log-level can set one by one: the
// binary itself, the node, its connections, the peer book, the filter,
// the port mapper, the admin API's HTTP server, the peer set and mDNS
// discovery (p2p names the last two: peerset.Deps.Logger, mdns.Config).
var logComponents = []string{"node", "p2p", "conn", "book", "filter", "nat", "api", "peerset", "mdns"}

// logLevels is a parsed -log-level: a level for each component named,
// and one for the others.
type logLevels struct {
	def slog.Level
	by  map[string]slog.Level
}

// min is the lowest level any component logs at.
func (l logLevels) min() slog.Level {
	m := l.def
	for _, v := range l.by {
		m = min(m, v)
	}
	return m
}

// of is the level of component c ("" for a line without one).
func (l logLevels) of(c string) slog.Level {
	if v, ok := l.by[c]; ok {
		return v
	}
	return l.def
}

// parseLogLevels parses a comma-separated list of levels: one bare level
// (for every component not named; default info) and component=level
// entries, e.g. "p2p=debug,info" or "warn,book=debug". The error does not
// name the flag; the caller does.
func parseLogLevels(s string) (logLevels, error) {
	l := logLevels{def: slog.LevelInfo, by: map[string]slog.Level{}}
	sawDefault := false
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return l, fmt.Errorf("%q: entry %d is empty; want e.g. info or p2p=debug,info", s, i+1)
		}
		comp, lvl, named := strings.Cut(part, "=")
		if !named {
			lvl = part
		}
		v, err := parseLevel(lvl)
		if err != nil {
			return l, fmt.Errorf("%q: entry %d: %v", s, i+1, err)
		}
		if !named {
			if sawDefault {
				return l, fmt.Errorf("%q: two levels for the other components (%s); name a component, e.g. p2p=debug", s, part)
			}
			l.def, sawDefault = v, true
			continue
		}
		comp = strings.ToLower(strings.TrimSpace(comp))
		if !slices.Contains(logComponents, comp) {
			return l, fmt.Errorf("%q: entry %d: unknown component %q; want one of %s", s, i+1, comp, strings.Join(logComponents, ", "))
		}
		if _, dup := l.by[comp]; dup {
			return l, fmt.Errorf("%q: component %s given twice", s, comp)
		}
		l.by[comp] = v
	}
	return l, nil
}

// parseLevel parses one of debug, info, warn and error.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("level %q: want debug, info, warn or error", s)
}

// newLogger is the root logger of "peerwire node": lines go to w as text
// or JSON, each at the level -log-level sets for its component. The
// library's loggers add their component with Logger.With; the binary's
// own lines use log.With("component", "node").
func newLogger(w io.Writer, format string, levels logLevels) *slog.Logger {
	opts := &slog.HandlerOptions{Level: levels.min()}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(&componentHandler{h: h, levels: levels, level: levels.def})
}

// componentHandler filters records by the level of the component the
// logger was made for (its last component attribute).
type componentHandler struct {
	h      slog.Handler
	levels logLevels
	level  slog.Level // levels.of(the component), or the default
}

func (c *componentHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= c.level }

func (c *componentHandler) Handle(ctx context.Context, r slog.Record) error {
	return c.h.Handle(ctx, r)
}

func (c *componentHandler) WithAttrs(as []slog.Attr) slog.Handler {
	d := &componentHandler{h: c.h.WithAttrs(as), levels: c.levels, level: c.level}
	for _, a := range as {
		if a.Key == "component" {
			d.level = c.levels.of(a.Value.String())
		}
	}
	return d
}

func (c *componentHandler) WithGroup(name string) slog.Handler {
	return &componentHandler{h: c.h.WithGroup(name), levels: c.levels, level: c.level}
}
