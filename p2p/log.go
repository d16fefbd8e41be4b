package p2p

import "log/slog"

// loggers wraps the node's slog.Logger; the library is silent unless the
// application passes a logger.
type loggers struct{ l *slog.Logger }

func newLoggers(l *slog.Logger) *loggers { return &loggers{l} }

func (g *loggers) debug(msg string, args ...any) { g.l.Debug(msg, args...) }
func (g *loggers) info(msg string, args ...any)  { g.l.Info(msg, args...) }
func (g *loggers) warn(msg string, args ...any)  { g.l.Warn(msg, args...) }
