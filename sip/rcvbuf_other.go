//go:build !linux

package sip

import "net"

// setReadBuffer asks for n bytes of socket receive buffer (capped by the OS).
func setReadBuffer(c *net.UDPConn, n int) error { return c.SetReadBuffer(n) }
