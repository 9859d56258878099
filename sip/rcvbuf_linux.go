package sip

import (
	"net"
	"syscall"
)

// setReadBuffer asks for n bytes of socket receive buffer. As root (CAP_NET_ADMIN) it
// uses SO_RCVBUFFORCE, which is not capped by net.core.rmem_max; otherwise SO_RCVBUF.
func setReadBuffer(c *net.UDPConn, n int) error {
	if rc, err := c.SyscallConn(); err == nil {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, n)
		}); err == nil && serr == nil {
			return nil
		}
	}
	return c.SetReadBuffer(n)
}
