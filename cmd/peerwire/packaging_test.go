package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The packaging files are documentation (no container engine or systemd
// runs here); these tests keep them in step with the binary: every
// variable they set is a real flag's, the image runs as non-root with its
// home in a volume, and the unit's no-restart statuses are the binary's
// usage and bind statuses.

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func nodeFlagNames() map[string]bool {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	defineNodeFlags(fs)
	names := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { names[envName(f.Name)] = true })
	names[envPrefix+"ADMIN_TOKEN"], names[envPrefix+"METRICS_TOKEN"] = true, true
	return names
}

func TestPackagingVariablesAreFlags(t *testing.T) {
	known := nodeFlagNames()
	re := regexp.MustCompile(`PEERWIRE_[A-Z_]+`)
	for _, f := range []string{"Dockerfile", "docker-compose.yml", "packaging/systemd/peerwire.service"} {
		vars := re.FindAllString(readRepoFile(t, f), -1)
		if len(vars) == 0 {
			t.Errorf("%s sets no PEERWIRE_ variable", f)
		}
		for _, v := range vars {
			if !known[v] {
				t.Errorf("%s: %s is no flag's variable", f, v)
			}
		}
	}
}

func TestDockerfile(t *testing.T) {
	d := readRepoFile(t, "Dockerfile")
	from := regexp.MustCompile(`(?m)^FROM \S+`).FindAllString(d, -1)
	if len(from) < 2 {
		t.Errorf("not multi-stage: %v", from)
	}
	user := regexp.MustCompile(`(?m)^USER (\S+)`).FindStringSubmatch(d)
	if user == nil || strings.HasPrefix(user[1], "0") || strings.HasPrefix(user[1], "root") {
		t.Errorf("runs as %v", user)
	}
	for _, w := range []string{`VOLUME ["/home/peerwire"]`, "ENV PEERWIRE_HOME=/home/peerwire", "main.stampedCommit", "./cmd/peerwire"} {
		if !strings.Contains(d, w) {
			t.Errorf("Dockerfile lacks %s", w)
		}
	}
	c := readRepoFile(t, "docker-compose.yml")
	if n := len(regexp.MustCompile(`(?m)^  node\d:$`).FindAllString(c, -1)); n != 4 {
		t.Errorf("compose file has %d nodes, want 4", n)
	}
}

func TestSystemdUnit(t *testing.T) {
	u := readRepoFile(t, "packaging/systemd/peerwire.service")
	want := "RestartPreventExitStatus=" + strconv.Itoa(exitUsage) + " " + strconv.Itoa(exitBind)
	for _, w := range []string{want, "ExecStart=/usr/local/bin/peerwire node", "User=peerwire", "KillSignal=SIGTERM"} {
		if !strings.Contains(u, w) {
			t.Errorf("unit lacks %s", w)
		}
	}
	// It stops within systemd's bound: the node's own stop bounds sum below it.
	m := regexp.MustCompile(`TimeoutStopSec=(\d+)`).FindStringSubmatch(u)
	if m == nil {
		t.Fatal("no TimeoutStopSec")
	}
	if s, _ := strconv.Atoi(m[1]); float64(s) <= (adminStopTimeout + nodeStopTimeout).Seconds() {
		t.Errorf("TimeoutStopSec=%s is not above the node's stop bound %v", m[1], adminStopTimeout+nodeStopTimeout)
	}
}

func TestLicense(t *testing.T) {
	l := readRepoFile(t, "LICENSE")
	if !strings.Contains(l, "Apache License") || !strings.Contains(l, "Version 2.0, January 2004") {
		t.Fatal("LICENSE is not Apache-2.0")
	}
}
