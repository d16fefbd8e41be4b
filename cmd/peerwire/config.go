package main

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Names under the home directory.
const (
	defaultHomeName = ".peerwire"   // under the user's home directory
	configFileName  = "config.toml" // <home>/config.toml
	dataDirName     = "data"        // <home>/data: node.key and peerbook.json
	keyFileName     = "node.key"    // what p2p.Config.DataDir reads
	// maxConfigFile bounds the config file read.
	maxConfigFile = 1 << 20
)

// settingError is a bad operator value. It names the flag, and, once the
// value's origin is known, where the value came from: the flag itself,
// its environment variable, or a line of the config file.
type settingError struct {
	flag  string // flag name without the dash
	where string // "" when the value came from the flag or its default
	msg   string
}

// Error returns e.g. `-role: "king": want …`, or
// `PEERWIRE_ROLE (-role): …`, or `/h/config.toml:7: role (-role): …`.
func (e *settingError) Error() string {
	if e.where == "" {
		return "-" + e.flag + ": " + e.msg
	}
	return e.where + " (-" + e.flag + "): " + e.msg
}

// flagError is a usage error naming the flag whose value is wrong.
func flagError(name, format string, args ...any) error {
	return usageError{&settingError{flag: name, msg: fmt.Sprintf(format, args...)}}
}

// sources records where each node setting came from, by flag name; a
// flag that is absent kept its default or was given on the command line.
type sources map[string]string

// locate fills in the origin of a settingError.
func (s sources) locate(err error) error {
	var se *settingError
	if errors.As(err, &se) && se.where == "" {
		se.where = s[se.flag]
	}
	return err
}

// fileKey is the config file key of a flag: max-inbound is max_inbound.
func fileKey(flagName string) string { return strings.ReplaceAll(flagName, "-", "_") }

// fileValue is one setting of the config file, as a flag value.
type fileValue struct {
	value string
	line  int
}

// readConfigFile reads a flat TOML file of settings named after the
// flags (see fileKey). Every key must name a flag in fs (other than
// those in notInFile); an unknown key, a table or a value of the wrong
// kind is an error naming file:line.
func readConfigFile(path string, fs *flag.FlagSet, notInFile map[string]bool) (map[string]fileValue, error) {
	b, err := readBounded(path, maxConfigFile)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if _, err := toml.Decode(string(b), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	lines := keyLines(string(b))
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return lines[keys[i]] < lines[keys[j]] })
	out := map[string]fileValue{}
	for _, k := range keys {
		if lines[k] == 0 {
			return nil, fmt.Errorf("%s: setting %q: cannot find the line that sets it; write it as a plain `key = value` line", path, k)
		}
		at := fmt.Sprintf("%s:%d", path, lines[k])
		if _, ok := raw[k].(map[string]any); ok {
			return nil, fmt.Errorf("%s: table %q: tables are not used: every setting is a top-level key", at, k)
		}
		name := strings.ReplaceAll(k, "_", "-")
		f := fs.Lookup(name)
		if f == nil || notInFile[name] || strings.Contains(k, "-") {
			return nil, fmt.Errorf("%s: unknown setting %q", at, k)
		}
		v, err := flagText(raw[k], f)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", at, k, err)
		}
		out[name] = fileValue{value: v, line: lines[k]}
	}
	return out, nil
}

// flagText turns a decoded TOML value into the flag's text form.
func flagText(v any, f *flag.Flag) (string, error) {
	_, isList := f.Value.(*listFlag)
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case []any:
		if !isList {
			return "", errors.New("a list is not allowed here")
		}
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return "", fmt.Errorf("list entry %v is not a string", e)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	case map[string]any:
		return "", errors.New("tables are not used: every setting is a top-level key")
	default:
		return "", fmt.Errorf("%v (%T) is not a string, integer, boolean or list", v, v)
	}
}

// keyLines maps each top-level key of a flat TOML file to the line that
// assigns it. The file has no tables (readConfigFile refuses them) and
// TOML forbids assigning a key twice, so the first line starting with
// the key and "=" is the one (for a table, its "[name]" header line).
func keyLines(text string) map[string]int {
	m := map[string]int{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") { // a table header: readConfigFile refuses it
			line = strings.Trim(line, "[] \t") + "="
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		k = strings.TrimSpace(k)
		if strings.HasPrefix(k, `"`) || strings.HasPrefix(k, "'") {
			// A quoted key: TOML itself unquotes it (escapes included).
			var one map[string]any
			if _, err := toml.Decode(k+" = 0", &one); err != nil || len(one) != 1 {
				continue
			}
			for name := range one {
				k = name
			}
		}
		if _, seen := m[k]; !seen && k != "" {
			m[k] = i + 1
		}
	}
	return m
}

// homeDir is the home directory: -home, else PEERWIRE_HOME, else
// ~/.peerwire.
func homeDir(flagValue string, given bool, lookup lookupEnvFunc) (string, string, error) {
	if given {
		if strings.TrimSpace(flagValue) == "" {
			return "", "", flagError("home", "must not be empty")
		}
		return flagValue, "", nil
	}
	if v, ok := lookup(envName("home")); ok {
		if strings.TrimSpace(v) == "" {
			return "", "", usageError{&settingError{flag: "home", where: envName("home"), msg: "must not be empty"}}
		}
		return v, envName("home"), nil
	}
	h, ok := lookup("HOME")
	if !ok || h == "" {
		return "", "", flagError("home", "$HOME is not set: give -home or %s", envName("home"))
	}
	return filepath.Join(h, defaultHomeName), "", nil
}
