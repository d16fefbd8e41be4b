package mux

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// tcpNotSentLowat is TCP_NOTSENT_LOWAT from linux/tcp.h.
const tcpNotSentLowat = 25

// SetNotSentLowat sets TCP_NOTSENT_LOWAT to bytes on c's TCP socket,
// unwrapping transports that have NetConn() net.Conn (as EncryptedConn
// does). The kernel then wakes writers only when less than bytes of
// unsent data remain queued, so the writer's next (possibly urgent) packet
// waits behind at most that much. It returns an error matching
// errors.ErrUnsupported when c is not a TCP connection, and on systems
// without the option. It is safe for concurrent use.
func SetNotSentLowat(c net.Conn, bytes int) error {
	for {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return fmt.Errorf("mux: TCP_NOTSENT_LOWAT on %T: %w", c, errors.ErrUnsupported)
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return fmt.Errorf("mux: TCP_NOTSENT_LOWAT: %w", err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat, bytes)
	}); err != nil {
		return fmt.Errorf("mux: TCP_NOTSENT_LOWAT: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("mux: TCP_NOTSENT_LOWAT: %w", serr)
	}
	return nil
}
