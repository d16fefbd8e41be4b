package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peerwire/peerwire/crypto"
	"github.com/peerwire/peerwire/p2p"
	"github.com/peerwire/peerwire/p2p/httpapi"
)

// maxAdminResponse bounds what the admin clients read: a full book of
// tens of thousands of entries fits.
const maxAdminResponse = 64 << 20

// adminClient is the part of "peers", "book" and "bans" that talks to a
// node's admin API.
type adminClient struct {
	addr      string
	tokenFile string
	timeout   time.Duration
	json      bool
	token     string
}

func defineAdminFlags(fs *flag.FlagSet) *adminClient {
	c := &adminClient{}
	fs.StringVar(&c.addr, "admin", defaultAdminAddr, "address of the node's admin API (host:port or http(s)://host:port)")
	fs.StringVar(&c.tokenFile, "admin-token-file", "", "file holding the admin API bearer token (else $PEERWIRE_ADMIN_TOKEN)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long to wait for the answer")
	fs.BoolVar(&c.json, "json", false, "print the API's JSON instead of a table")
	return c
}

func (c *adminClient) setup(lookup lookupEnvFunc) error {
	if c.addr == "" {
		return flagError("admin", "must not be empty")
	}
	if !strings.Contains(c.addr, "://") {
		if _, _, err := net.SplitHostPort(c.addr); err != nil {
			return flagError("admin", "%q: want host:port", c.addr)
		}
		c.addr = "http://" + c.addr
	}
	if c.timeout <= 0 {
		return flagError("timeout", "%v: must be positive", c.timeout)
	}
	var err error
	c.token, err = readToken("admin-token-file", c.tokenFile, envPrefix+"ADMIN_TOKEN", lookup)
	return err
}

// get fetches path and decodes its JSON into out; it returns the raw body too.
func (c *adminClient) get(ctx context.Context, path string, out any) ([]byte, error) {
	return c.call(ctx, http.MethodGet, path, nil, http.StatusOK, out)
}

// call sends one request (body, if any, as JSON) and decodes a JSON answer
// with status want into out (if not nil); it returns the raw body too.
func (c *adminClient) call(ctx context.Context, method, path string, body any, want int, out any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.addr, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	// One request per command: no connection is kept for reuse.
	hc := &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminResponse))
	if err != nil {
		return nil, fmt.Errorf("admin API: %w", err)
	}
	if resp.StatusCode != want {
		var e httpapi.Error
		if json.Unmarshal(raw, &e) == nil && e.Code != "" {
			return nil, fmt.Errorf("admin API: %s: %s (%s)", resp.Status, e.Message, e.Code)
		}
		return nil, fmt.Errorf("admin API: %s", resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("admin API: bad answer: %w", err)
		}
	}
	return raw, nil
}

// adminCommand parses the common flags (plus extra ones) and fetches path.
func adminCommand(ctx context.Context, name string, args []string, stderr io.Writer, extra func(*flag.FlagSet) func() (string, error), out any) (*adminClient, []byte, error) {
	// Only the flags shared with "peerwire node" read the environment, so
	// a node's PEERWIRE_ROLE does not become a filter here.
	envFlags := map[string]bool{"admin": true, "admin-token-file": true}
	fs := newSomeEnvFlagSet(name, "Asks a running node's admin API and prints the answer as a table.", stderr, envFlags)
	c := defineAdminFlags(fs)
	var pathFn func() (string, error)
	if extra != nil {
		pathFn = extra(fs)
	}
	if err := parseFlagsEnv(fs, args, os.LookupEnv, envFlags); err != nil {
		return nil, nil, err
	}
	if err := c.setup(os.LookupEnv); err != nil {
		return nil, nil, err
	}
	path := "/" + name
	if pathFn != nil {
		p, err := pathFn()
		if err != nil {
			return nil, nil, err
		}
		path = p
	}
	body, err := c.get(ctx, path, out)
	return c, body, err
}

func runPeers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var list httpapi.PeerList
	c, body, err := adminCommand(ctx, "peers", args, stderr, func(fs *flag.FlagSet) func() (string, error) {
		role := fs.String("role", "", "only peers with this role: validator, full, seed, light")
		return func() (string, error) {
			switch *role {
			case "":
				return "/peers", nil
			case "validator", "full", "seed", "light", "unspecified":
				return "/peers?role=" + *role, nil
			}
			return "", flagError("role", "%q: want validator, full, seed or light", *role)
		}
	}, &list)
	if err != nil {
		return err
	}
	peers := list.Peers
	if c.json {
		_, err := stdout.Write(body)
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDIR\tROLE\tREMOTE\tRTT(ms)\tIN(KiB)\tOUT(KiB)\tSCORE\tMUST\tSINCE")
	for _, p := range peers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%.1f\t%.1f\t%.1f\t%s\t%s\n", p.ID, p.Direction, p.Role, p.Remote,
			p.RTT.SmoothedMs, float64(p.BytesIn)/1024, float64(p.BytesOut)/1024, p.Score, yesNo(p.MustConnect),
			time.Since(p.ConnectedAt).Round(time.Second))
	}
	fmt.Fprintf(tw, "%d peers\n", list.Count)
	return tw.Flush()
}

func runBook(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "remove" {
		return runBookRemove(ctx, args[1:], stdout, stderr)
	}
	var book []httpapi.BookEntry
	c, body, err := adminCommand(ctx, "book", args, stderr, nil, &book)
	if err != nil {
		return err
	}
	if c.json {
		_, err := stdout.Write(body)
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tSOURCE\tROLE\tTRIED\tPROTECTED\tFAILURES\tLAST SEEN\tBANNED UNTIL")
	for _, e := range book {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.Addr, e.Source, e.Role, yesNo(e.Tried), yesNo(e.Protected),
			e.Failures, stamp(e.LastSeen), stamp(e.BanUntil))
	}
	fmt.Fprintf(tw, "%d entries\n", len(book))
	return tw.Flush()
}

func runBans(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var bans []httpapi.Ban
	c, body, err := adminCommand(ctx, "bans", args, stderr, nil, &bans)
	if err != nil {
		return err
	}
	if c.json {
		_, err := stdout.Write(body)
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tIP\tUNTIL\tREASON")
	for _, b := range bans {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", dash(b.ID), dash(b.IP+b.Prefix), stamp(b.Until), b.Reason)
	}
	fmt.Fprintf(tw, "%d bans\n", len(bans))
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// banTarget classifies the argument of "ban" and "unban": a peer ID, an
// IP address or a CIDR prefix, as the admin API takes them.
func banTarget(arg string) (httpapi.BanRequest, error) {
	switch {
	case arg == "":
		return httpapi.BanRequest{}, usageError{errors.New("missing the peer ID, IP address or CIDR prefix to ban")}
	case strings.Contains(arg, "/"):
		if _, err := netip.ParsePrefix(arg); err != nil {
			return httpapi.BanRequest{}, usageError{fmt.Errorf("%q: not a CIDR prefix: %v", arg, err)}
		}
		return httpapi.BanRequest{Prefix: arg}, nil
	}
	if _, err := crypto.ParseID(arg); err == nil {
		return httpapi.BanRequest{ID: arg}, nil
	}
	if _, err := netip.ParseAddr(arg); err == nil {
		return httpapi.BanRequest{IP: arg}, nil
	}
	return httpapi.BanRequest{}, usageError{fmt.Errorf("%q: want a peer ID (%d hex digits), an IP address or a CIDR prefix", arg, 2*crypto.IDLen)}
}

// parseTargetCommand parses "peerwire <name> <target> [flags]" (the target
// may also follow the flags): the admin flags plus extra ones, the
// environment for the admin flags, and exactly one target.
func parseTargetCommand(name, intro string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*adminClient, string, error) {
	envFlags := map[string]bool{"admin": true, "admin-token-file": true}
	define := func() (*flag.FlagSet, *adminClient) {
		fs := newSomeEnvFlagSet(name, intro, stderr, envFlags)
		c := defineAdminFlags(fs)
		if extra != nil {
			extra(fs)
		}
		return fs, c
	}
	// A first pass finds the target among the flags; the second parses the
	// flags alone, with the environment.
	probe, _ := define()
	probe.SetOutput(io.Discard)
	probe.Usage = func() {}
	target := ""
	flagArgs := args
	if err := probe.Parse(args); err == nil && probe.NArg() > 0 {
		target = probe.Arg(0)
		rest := probe.Args()
		flagArgs = append(append([]string(nil), args[:len(args)-len(rest)]...), rest[1:]...)
	}
	fs, c := define()
	if err := parseFlagsEnv(fs, flagArgs, os.LookupEnv, envFlags); err != nil {
		return nil, "", err
	}
	if err := c.setup(os.LookupEnv); err != nil {
		return nil, "", err
	}
	return c, target, nil
}

func runBan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var d time.Duration
	var reason string
	c, target, err := parseTargetCommand("ban", "Bans a peer ID, an IP address or a CIDR prefix on a running node (admin API): peerwire ban <ID|IP|CIDR> -for 24h -reason why",
		args, stderr, func(fs *flag.FlagSet) {
			fs.DurationVar(&d, "for", 24*time.Hour, "how long the ban lasts (at most "+p2p.MaxBanDuration.String()+")")
			fs.StringVar(&reason, "reason", "", "why, kept with the ban (at most 256 bytes)")
		})
	if err != nil {
		return err
	}
	req, err := banTarget(target)
	if err != nil {
		return err
	}
	if d <= 0 || d > p2p.MaxBanDuration {
		return flagError("for", "%v: want a duration in (0, %v]", d, p2p.MaxBanDuration)
	}
	if len(reason) > 256 {
		return flagError("reason", "%d bytes: at most 256", len(reason))
	}
	req.Duration, req.Reason = d.String(), reason
	var ban httpapi.Ban
	body, err := c.call(ctx, http.MethodPost, "/bans", req, http.StatusCreated, &ban)
	if err != nil {
		return err
	}
	if c.json {
		_, err := stdout.Write(body)
		return err
	}
	_, err = fmt.Fprintf(stdout, "banned %s until %s: %s\n", dash(ban.ID+ban.IP+ban.Prefix), stamp(ban.Until), ban.Reason)
	return err
}

func runUnban(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, target, err := parseTargetCommand("unban", "Lifts a ban on a peer ID, an IP address or a CIDR prefix on a running node (admin API): peerwire unban <ID|IP|CIDR>",
		args, stderr, nil)
	if err != nil {
		return err
	}
	if _, err := banTarget(target); err != nil {
		return err
	}
	if _, err := c.call(ctx, http.MethodDelete, "/bans/"+target, nil, http.StatusNoContent, nil); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "unbanned %s\n", target)
	return err
}

// peerTarget checks the argument of "disconnect" and "book remove".
func peerTarget(arg string) error {
	if arg == "" {
		return usageError{errors.New("missing the peer ID")}
	}
	if _, err := crypto.ParseID(arg); err != nil {
		return usageError{fmt.Errorf("%q: want a peer ID (%d hex digits)", arg, 2*crypto.IDLen)}
	}
	return nil
}

func runDial(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var must bool
	c, target, err := parseTargetCommand("dial", "Dials a peer from a running node (admin API): peerwire dial <ID@host:port|host:port> [-must-connect]",
		args, stderr, func(fs *flag.FlagSet) {
			fs.BoolVar(&must, "must-connect", false, "keep the peer connected: redial it whenever it drops (needs ID@host:port)")
		})
	if err != nil {
		return err
	}
	if target == "" {
		return usageError{errors.New("missing the address to dial (ID@host:port or host:port)")}
	}
	if _, err := crypto.ParseDialAddress(target); err != nil {
		return usageError{fmt.Errorf("%q: %v", target, err)}
	}
	want := http.StatusCreated
	if must {
		want = http.StatusAccepted
	}
	var dr httpapi.DialResponse
	body, err := c.call(ctx, http.MethodPost, "/peers", httpapi.DialRequest{Addr: target, MustConnect: must}, want, &dr)
	if err != nil {
		return err
	}
	if c.json {
		_, err := stdout.Write(body)
		return err
	}
	state := "connected"
	if !dr.Connected {
		state = "not connected yet"
	}
	if dr.MustConnect {
		state += ", must-connect"
	}
	_, err = fmt.Fprintf(stdout, "dialed %s: %s\n", dr.ID, state)
	return err
}

func runDisconnect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var forget, keepMust bool
	c, target, err := parseTargetCommand("disconnect", "Disconnects a peer from a running node (admin API): peerwire disconnect <ID> [-forget] [-must-connect=false]",
		args, stderr, func(fs *flag.FlagSet) {
			fs.BoolVar(&forget, "forget", false, "also remove the peer from the book (and from must-connect)")
			fs.BoolVar(&keepMust, "must-connect", true, "false: a must-connect peer stops being one (it is not redialed at once)")
		})
	if err != nil {
		return err
	}
	if err := peerTarget(target); err != nil {
		return err
	}
	path := "/peers/" + target + "?must_connect=" + strconv.FormatBool(keepMust) + "&forget=" + strconv.FormatBool(forget)
	var dr httpapi.DisconnectResponse
	body, err := c.call(ctx, http.MethodDelete, path, nil, http.StatusOK, &dr)
	if err != nil {
		return err
	}
	if c.json {
		_, err := stdout.Write(body)
		return err
	}
	verb := "disconnected"
	if !dr.Disconnected {
		verb = "not connected"
	}
	_, err = fmt.Fprintf(stdout, "%s %s: %s\n", verb, dr.ID, dr.Note)
	return err
}

func runBookRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, target, err := parseTargetCommand("book remove", "Removes a peer from a running node's book (admin API; bans stay): peerwire book remove <ID>",
		args, stderr, nil)
	if err != nil {
		return err
	}
	if err := peerTarget(target); err != nil {
		return err
	}
	body, err := c.call(ctx, http.MethodDelete, "/book/"+target, nil, http.StatusOK, nil)
	if err != nil {
		return err
	}
	if c.json {
		_, err := stdout.Write(body)
		return err
	}
	_, err = fmt.Fprintf(stdout, "removed %s from the book\n", target)
	return err
}
