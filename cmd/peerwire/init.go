package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peerwire/peerwire/crypto"
)

func runInit(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("init", stderr)
	home := fs.String("home", "", "home `directory` to create (default: $PEERWIRE_HOME, else ~/.peerwire)")
	force := fs.Bool("force", false, "overwrite an existing config file (an existing key is always kept; see \"peerwire keygen -force\")")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "home" })
	dir, _, err := homeDir(*home, given, os.LookupEnv)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, configFileName)
	if _, err := os.Lstat(cfgPath); err == nil && !*force {
		return fmt.Errorf("%s exists (use -force to overwrite it)", cfgPath)
	}
	dataDir := filepath.Join(dir, dataDirName)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	if err := writeFileAtomic(cfgPath, configTemplate(dir), 0o600); err != nil {
		return err
	}
	keyPath := filepath.Join(dataDir, keyFileName)
	id, err := crypto.LoadKeyFile(keyPath)
	kept := err == nil
	if errors.Is(err, os.ErrNotExist) {
		if id, err = crypto.GenerateIdentity(nil); err == nil {
			err = crypto.SaveKeyFile(keyPath, id, false)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "config:   %s\n", cfgPath)
	if kept {
		fmt.Fprintf(stdout, "key file: %s (existing key kept)\n", keyPath)
	} else {
		fmt.Fprintf(stdout, "key file: %s\n", keyPath)
	}
	fmt.Fprintf(stdout, "peer ID:  %s\n\nStart the node with:  peerwire node -home %s\n", id.ID(), dir)
	return nil
}

// configTemplate is the config file "peerwire init" writes: every node
// setting with its help as a comment and its default as the value
// (data_dir commented out: it follows the home directory).
func configTemplate(home string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# peerwire node configuration, written by \"peerwire init\".\n")
	fmt.Fprintf(&b, "# Each key is a flag of \"peerwire node\" (max_inbound is -max-inbound).\n")
	fmt.Fprintf(&b, "# Precedence: flag > environment variable (PEERWIRE_MAX_INBOUND) > this file > default.\n")
	fmt.Fprintf(&b, "# Lists are arrays of strings; durations are strings such as \"1m\" or \"90s\".\n")
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	defineNodeFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "home" || f.Name == "config" {
			return
		}
		_, usage := flag.UnquoteUsage(f)
		b.WriteString("\n")
		for _, line := range wrap(usage, 76) {
			fmt.Fprintf(&b, "# %s\n", line)
		}
		if f.Name == "data-dir" {
			fmt.Fprintf(&b, "# %s = %s\n", fileKey(f.Name), tomlString(filepath.Join(home, dataDirName)))
			return
		}
		fmt.Fprintf(&b, "%s = %s\n", fileKey(f.Name), tomlDefault(f))
	})
	return b.Bytes()
}

// tomlDefault is a flag's default as a TOML value.
func tomlDefault(f *flag.Flag) string {
	if l, ok := f.Value.(*listFlag); ok {
		parts := make([]string, 0, len(*l))
		for _, e := range *l {
			parts = append(parts, tomlString(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	switch v := f.Value.(flag.Getter).Get().(type) {
	case bool, int, int64, uint, uint64:
		return fmt.Sprint(v)
	case time.Duration:
		return tomlString(v.String())
	default:
		return tomlString(f.DefValue)
	}
}

// tomlString quotes s as a TOML basic string (JSON's escapes are TOML's).
func tomlString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// wrap splits text into lines of at most width bytes at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}

// writeFileAtomic writes data to path through a temporary file and a
// rename, so a crash leaves the old file or the new one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
