package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// envPrefix prefixes every environment variable the command reads.
const envPrefix = "PEERWIRE_"

// envName is the environment variable that stands in for a flag:
// -max-inbound reads PEERWIRE_MAX_INBOUND.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// lookupEnvFunc is os.LookupEnv, replaceable in tests.
type lookupEnvFunc func(string) (string, bool)

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints every flag with its default (empty ones too).
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("peerwire "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: peerwire %s [flags]\n\nflags:\n", name)
		printDefaults(fs, nil)
	}
	return fs
}

// newEnvFlagSet is newFlagSet whose help also names each flag's
// environment variable.
func newEnvFlagSet(name, intro string, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet(name, stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: peerwire %s [flags]\n\n%s\n\nEvery flag falls back to the environment variable named after it, then to the config file key named after it (max_inbound for -max-inbound): flag > environment > config file > default.\n\nflags:\n", name, intro)
		printDefaults(fs, envName)
	}
	return fs
}

// newSomeEnvFlagSet is newEnvFlagSet where only the named flags read the
// environment (see parseFlagsEnv's only).
func newSomeEnvFlagSet(name, intro string, stderr io.Writer, only map[string]bool) *flag.FlagSet {
	fs := newFlagSet(name, stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: peerwire %s [flags]\n\n%s\n\nflags:\n", name, intro)
		printDefaults(fs, func(f string) string {
			if only[f] {
				return envName(f)
			}
			return ""
		})
	}
	return fs
}

// printDefaults writes each flag, its usage, its default (always, quoted
// when it is a string) and, when env is set, its environment variable.
func printDefaults(fs *flag.FlagSet, env func(string) string) {
	w := fs.Output()
	fs.VisitAll(func(f *flag.Flag) {
		typ, text := flag.UnquoteUsage(f)
		line := "  -" + f.Name
		if typ != "" {
			line += " " + typ
		}
		def := f.DefValue
		if isStringFlag(f) {
			def = fmt.Sprintf("%q", def)
		}
		fmt.Fprintf(w, "%s\n    \t%s\n    \t(default %s", line, strings.ReplaceAll(text, "\n", "\n    \t"), def)
		if env != nil && env(f.Name) != "" {
			fmt.Fprintf(w, "; env %s", env(f.Name))
		}
		fmt.Fprintln(w, ")")
	})
}

func isStringFlag(f *flag.Flag) bool {
	if g, ok := f.Value.(flag.Getter); ok {
		_, isStr := g.Get().(string)
		return isStr
	}
	_, isList := f.Value.(*listFlag)
	return isList
}

// stdioWriter is the stderr that run hands to a command: it writes to
// stderr, and carries stdout so that asked-for help goes there.
type stdioWriter struct {
	io.Writer           // stderr
	stdout    io.Writer // where -h prints
}

// wantsHelp reports whether args ask for help (-h, -help, --help) before
// the first argument that is not a flag.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch {
		case a == "--":
			return false
		case a == "-h" || a == "-help" || a == "--h" || a == "--help":
			return true
		case !strings.HasPrefix(a, "-"):
			return false
		}
	}
	return false
}

// parseFlags parses args, turning flag errors into usage errors. Asked-for
// help goes to stdout (when run provided it) and returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if wantsHelp(args) {
		if w, ok := fs.Output().(stdioWriter); ok {
			fs.SetOutput(w.stdout)
		}
		fs.Usage()
		return flag.ErrHelp
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// parseFlagsEnv parses args, then sets every flag not given on the command
// line (and, if only is not nil, named in only) from its environment
// variable, if that is set (even to ""). A bad value names both the flag
// and the variable.
func parseFlagsEnv(fs *flag.FlagSet, args []string, lookup lookupEnvFunc, only map[string]bool) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] || (only != nil && !only[f.Name]) {
			return
		}
		name := envName(f.Name)
		v, ok := lookup(name)
		if !ok {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = usageError{&settingError{flag: f.Name, where: name, msg: fmt.Sprintf("invalid value %q from %s: %v", v, name, serr)}}
		}
	})
	return err
}

// listFlag is a comma- or space-separated list of strings.
type listFlag []string

func (l *listFlag) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *listFlag) Set(s string) error {
	*l = nil
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		*l = append(*l, f)
	}
	return nil
}
