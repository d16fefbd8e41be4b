package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/peerwire/peerwire/crypto"
)

func runKeygen(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keygen", stderr)
	out := fs.String("out", "node.key", "path of the key file to write (mode 0600)")
	force := fs.Bool("force", false, "overwrite an existing key file")
	host := fs.String("host", "127.0.0.1", "host to print in the shareable address")
	port := fs.Int("port", 26656, "port to print in the shareable address")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *port < 1 || *port > 65535 {
		return usageError{fmt.Errorf("-port %d: must be 1-65535", *port)}
	}
	addr, err := crypto.ParseDialAddress(net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return usageError{fmt.Errorf("-host %q: %v", *host, err)}
	}
	id, err := crypto.GenerateIdentity(nil)
	if err != nil {
		return err
	}
	if err := crypto.SaveKeyFile(*out, id, *force); err != nil {
		if errors.Is(err, crypto.ErrKeyFileExists) {
			return fmt.Errorf("%w (use -force to replace it)", err)
		}
		return err
	}
	addr.ID = id.ID()
	fmt.Fprintf(stdout, "key file: %s\npeer ID:  %s\naddress:  %s\n", *out, id.ID(), addr)
	return nil
}
