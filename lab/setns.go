package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// inNS runs f on a locked OS thread that has entered the host's network
// namespace, so sockets f creates belong to the host: a dialed connection
// or a listener keeps working in that namespace after the thread returns.
// If the thread cannot return to its own namespace it stays locked, and the
// runtime discards it when the goroutine ends.
func (h *Host) inNS(f func()) error { return h.inNSNamed(h.NS, f) }

// inNSNamed is inNS for another namespace of the lab (a gateway).
func (h *Host) inNSNamed(ns string, f func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := setns(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("lab: setns %s: %w", ns, err)
			return
		}
		f()
		if setns(self) == nil {
			runtime.UnlockOSThread()
		}
		errc <- nil
	}()
	return <-errc
}

func setns(f *os.File) error {
	return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
}

// DialContext opens a TCP connection from inside the host's namespace (from
// the test process itself: no helper process).
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	var derr error
	if err := h.inNS(func() {
		var d net.Dialer
		c, derr = d.DialContext(ctx, network, addr)
	}); err != nil {
		return nil, err
	}
	return c, derr
}

// DialFrom is DialContext with the local address bound to src (one of the
// host's addresses, see AddAddr).
func (h *Host) DialFrom(ctx context.Context, src, addr string) (net.Conn, error) {
	var c net.Conn
	var derr error
	if err := h.inNS(func() {
		la, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(src, "0"))
		if err != nil {
			derr = err
			return
		}
		d := net.Dialer{LocalAddr: la}
		c, derr = d.DialContext(ctx, "tcp", addr)
	}); err != nil {
		return nil, err
	}
	return c, derr
}

// Listen opens a TCP listener inside the host's namespace.
func (h *Host) Listen(addr string) (net.Listener, error) {
	var ln net.Listener
	var lerr error
	if err := h.inNS(func() { ln, lerr = net.Listen("tcp", addr) }); err != nil {
		return nil, err
	}
	return ln, lerr
}

// HTTP is a client whose connections start inside the host's namespace, so
// it reaches an admin API bound to 127.0.0.1 there.
func (h *Host) HTTP() *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DialContext: h.DialContext, DisableKeepAlives: true},
	}
}

// Get fetches url from inside the host and returns the body; a status other
// than 200 is an error.
func (h *Host) Get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.HTTP().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("lab: GET %s: %s: %s", url, resp.Status, b)
	}
	return b, nil
}

func newPost(ctx context.Context, url, body string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}
