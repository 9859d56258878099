package media

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// portPool hands out even RTP ports from [min, max] in FIFO order, so a port just released is
// the last to be reused (late packets of an old call do not land in a new one). The RTCP port
// (RTP+1) is bound too but never read: peers' RTCP is dropped by the kernel when its small
// queue is full, they get no ICMP "port unreachable", and no other process takes the port.
type portPool struct {
	ip   netip.Addr
	mu   sync.Mutex
	free []int // FIFO ring of free even ports
	head int
	n    int
}

func newPortPool(ip netip.Addr, min, max int) (*portPool, error) {
	if min <= 0 || max > 65535 || min > max {
		return nil, fmt.Errorf("media: rtp port range %d-%d: invalid", min, max)
	}
	if min%2 == 1 {
		min++
	}
	p := &portPool{ip: ip}
	for port := min; port+1 <= max; port += 2 {
		p.free = append(p.free, port)
	}
	if len(p.free) == 0 {
		return nil, fmt.Errorf("media: rtp port range %d-%d: no even/odd port pair", min, max)
	}
	p.n = len(p.free)
	return p, nil
}

// listen binds the next free RTP/RTCP pair that the OS lets us bind; pairs held by other
// processes are put back at the end of the queue.
func (p *portPool) listen() (rtpConn, rtcpConn *net.UDPConn, port int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tries := p.n
	for i := 0; i < tries && p.n > 0; i++ {
		port := p.free[p.head]
		p.head = (p.head + 1) % len(p.free)
		p.n--
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
		if err == nil {
			rc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port+1))))
			if err == nil {
				_ = rc.SetReadBuffer(1) // the kernel's minimum: nothing reads it
				return c, rc, port, nil
			}
			c.Close()
		}
		p.putLocked(port)
	}
	return nil, nil, 0, ErrNoPorts
}

func (p *portPool) release(port int) {
	p.mu.Lock()
	p.putLocked(port)
	p.mu.Unlock()
}

func (p *portPool) putLocked(port int) {
	p.free[(p.head+p.n)%len(p.free)] = port
	p.n++
}
