// Command peerwire runs a peerwire node, makes identity keys, looks at a
// running node through its admin API, and runs a local demo network. Run
// "peerwire help" for the list of commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand of the binary.
type command struct {
	name  string
	short string
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"node", "run a node (flags, or PEERWIRE_* environment variables)", runNode},
		{"keygen", "write a new identity key file and print the node's peer ID", runKeygen},
		{"peers", "list a running node's connected peers (admin API)", runPeers},
		{"book", "list a running node's peer book (admin API)", runBook},
		{"bans", "list a running node's bans (admin API)", runBans},
		{"ban", "ban a peer ID, IP address or CIDR prefix on a running node (admin API)", runBan},
		{"unban", "lift a ban on a running node (admin API)", runUnban},
		{"demo", "run a local network on loopback and check what happened", runDemo},
	}
}

// usageError marks errors caused by bad flags or arguments (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() { os.Exit(mainWithSignals(os.Args[1:])) }

// mainWithSignals runs the command with SIGINT and SIGTERM cancelling its
// context; a second signal exits at once with status 130.
func mainWithSignals(args []string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		s, ok := <-sigs
		if !ok {
			return
		}
		fmt.Fprintf(os.Stderr, "peerwire: %v: stopping (signal again to force exit)\n", s)
		cancel()
		if s, ok = <-sigs; ok {
			fmt.Fprintf(os.Stderr, "peerwire: %v: forced exit\n", s)
			os.Exit(130)
		}
	}()
	return run(ctx, args, os.Stdout, os.Stderr)
}

// run dispatches to a subcommand and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) == 0 {
			usage(stderr)
			return 2
		}
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "peerwire %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "peerwire %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "peerwire: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: peerwire <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.short)
	}
	fmt.Fprintln(w, "\nRun \"peerwire <command> -h\" for a command's flags.")
}
