//go:build !linux

package mux

import (
	"errors"
	"net"
)

// SetNotSentLowat would set TCP_NOTSENT_LOWAT; this system lacks it, so it
// returns an error matching errors.ErrUnsupported.
func SetNotSentLowat(c net.Conn, bytes int) error {
	return errors.ErrUnsupported
}
