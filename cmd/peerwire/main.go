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
		{"init", "create a home directory: a commented config.toml and an identity key", runInit},
		{"node", "run a node (flags, PEERWIRE_* variables, or the home's config.toml)", runNode},
		{"keygen", "write a new identity key file where \"node\" reads it and print the node's peer ID", runKeygen},
		{"id", "print the peer ID and shareable address of an existing key", runID},
		{"version", "print the version, VCS commit, Go version and protocol version", runVersion},
		{"peers", "list a running node's connected peers (admin API)", runPeers},
		{"book", "list a running node's peer book, or \"book remove <ID>\" (admin API)", runBook},
		{"dial", "dial a peer from a running node (admin API)", runDial},
		{"disconnect", "disconnect a peer from a running node (admin API)", runDisconnect},
		{"bans", "list a running node's bans (admin API)", runBans},
		{"ban", "ban a peer ID, IP address or CIDR prefix on a running node (admin API)", runBan},
		{"unban", "lift a ban on a running node (admin API)", runUnban},
		{"demo", "run a local network on loopback and check what happened", runDemo},
		{"completion", "print a bash or zsh completion script", runCompletion},
	}
}

// Exit statuses, one per class of failure (see the README).
const (
	exitRuntime = 1 // the command ran and failed
	exitUsage   = 2 // bad flags, environment, config file or arguments
	exitBind    = 3 // a listener (peer, admin, metrics) could not be bound
)

// bindError marks a listener that could not be bound (exit status 3).
type bindError struct{ err error }

func (e bindError) Error() string { return e.err.Error() }
func (e bindError) Unwrap() error { return e.err }

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
		err := c.run(ctx, args[1:], stdout, stdioWriter{stderr, stdout})
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "peerwire %s: %v\n", c.name, err)
			return exitUsage
		case errors.As(err, new(bindError)):
			fmt.Fprintf(stderr, "peerwire %s: %v\n", c.name, err)
			return exitBind
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
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.short)
	}
	fmt.Fprintln(w, "\nRun \"peerwire <command> -h\" for a command's flags.")
}
