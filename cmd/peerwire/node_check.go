package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/peerwire/peerwire/filter"
)

// The checks of the node's options that read files or build components.

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
