package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/peerwire/peerwire/crypto"
)

// defaultPeerPort is the port printed in shareable addresses by default.
const defaultPeerPort = 26656

// publicIPPlaceholder stands in the printed address when no interface
// has an address other peers could dial.
const publicIPPlaceholder = "<your-public-ip>"

// identityFlags are the flags keygen and id share.
type identityFlags struct {
	home, key, host string
	port            int
}

func defineIdentityFlags(fs *flag.FlagSet, keyFlag, keyUsage string) *identityFlags {
	f := &identityFlags{}
	fs.StringVar(&f.home, "home", "", "home `directory` (default: $PEERWIRE_HOME, else ~/.peerwire)")
	fs.StringVar(&f.key, keyFlag, "", keyUsage+" (default: <home>/data/node.key, where \"peerwire node\" reads it)")
	fs.StringVar(&f.host, "host", "", "host to print in the shareable address (default: the first non-loopback interface address)")
	fs.IntVar(&f.port, "port", defaultPeerPort, "port to print in the shareable address")
	return f
}

// resolve returns the key path, given or under the home directory.
func (f *identityFlags) resolve(fs *flag.FlagSet, keyFlag string) (string, error) {
	if f.port < 1 || f.port > 65535 {
		return "", flagError("port", "%d: want 1-65535", f.port)
	}
	if f.key != "" {
		return f.key, nil
	}
	given := false
	fs.Visit(func(fl *flag.Flag) { given = given || fl.Name == "home" })
	home, _, err := homeDir(f.home, given, os.LookupEnv)
	if err != nil {
		return "", err
	}
	return filepath.Join(home, dataDirName, keyFileName), nil
}

// address is the shareable ID@host:port of id.
func (f *identityFlags) address(id crypto.ID) (string, error) {
	host := f.host
	if host == "" {
		host = firstPublicAddr(interfaceAddrs())
	}
	if host == publicIPPlaceholder {
		return id.String() + "@" + net.JoinHostPort(host, strconv.Itoa(f.port)), nil
	}
	addr, err := crypto.ParseDialAddress(net.JoinHostPort(host, strconv.Itoa(f.port)))
	if err != nil {
		return "", flagError("host", "%q: %v", host, err)
	}
	addr.ID = id
	return addr.String(), nil
}

// interfaceAddrs lists this host's interface addresses.
func interfaceAddrs() []netip.Addr {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	return out
}

// firstPublicAddr picks the address to print: the first global unicast
// IPv4 address, else the first global unicast IPv6 one (private ranges
// count: a LAN or VPN address is dialable by its peers); never loopback
// or link-local. With none it returns publicIPPlaceholder.
func firstPublicAddr(addrs []netip.Addr) string {
	for _, want4 := range []bool{true, false} {
		for _, a := range addrs {
			a = a.Unmap()
			if a.Is4() == want4 && a.IsGlobalUnicast() {
				return a.String()
			}
		}
	}
	return publicIPPlaceholder
}

func printIdentity(w io.Writer, path string, id crypto.ID, addr string) {
	fmt.Fprintf(w, "key file: %s\npeer ID:  %s\naddress:  %s\n", path, id, addr)
	if strings.Contains(addr, publicIPPlaceholder) {
		fmt.Fprintf(w, "note:     no interface has a dialable address; replace %s with the host peers reach you at (or use -host)\n", publicIPPlaceholder)
	}
}

func runKeygen(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keygen", stderr)
	f := defineIdentityFlags(fs, "out", "`path` of the key file to write (mode 0600)")
	force := fs.Bool("force", false, "overwrite an existing key file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path, err := f.resolve(fs, "out")
	if err != nil {
		return err
	}
	id, err := crypto.GenerateIdentity(nil)
	if err != nil {
		return err
	}
	addr, err := f.address(id.ID())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return flagError("out", "%v", err)
	}
	if err := crypto.SaveKeyFile(path, id, *force); err != nil {
		if errors.Is(err, crypto.ErrKeyFileExists) {
			return fmt.Errorf("%w (use -force to replace it)", err)
		}
		return err
	}
	printIdentity(stdout, path, id.ID(), addr)
	return nil
}

func runID(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("id", stderr)
	f := defineIdentityFlags(fs, "key", "`path` of the key file to read")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path, err := f.resolve(fs, "key")
	if err != nil {
		return err
	}
	id, err := crypto.LoadKeyFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: no key file (run \"peerwire init\" or \"peerwire keygen\", or give -key or -home)", path)
		}
		return err
	}
	addr, err := f.address(id.ID())
	if err != nil {
		return err
	}
	printIdentity(stdout, path, id.ID(), addr)
	return nil
}
