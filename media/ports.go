package media

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// portPool hands out the ports of [min, max] in random order (invariant 1): a scanner that
// sends RTP to the first port of the range, or to the port after one it saw in an SDP, does
// not find the next call there. A leg whose peer multiplexes RTCP (RFC 5761) takes one port;
// any other leg takes an even RTP port and the odd port above it for RTCP, bound but never
// read: peers' RTCP is dropped by the kernel when its small queue is full, they get no ICMP
// "port unreachable", and no other process takes the port.
//
// A released port rests in a cooling queue (FIFO) before it can be handed out again, so late
// packets of a call that just ended do not land in the next one; when nothing else is free
// the coolest port is taken.
type portPool struct {
	ip       netip.Addr
	min, max int
	onChange func(inUse, free int) // called with the counts after every change, under mu

	mu    sync.Mutex
	state []portState // index port-min
	cool  []int       // FIFO of released ports
	nCool int         // cooling queue bound
	inUse int
}

type portState uint8

const (
	portFree portState = iota
	portUsed
	portCooling
)

func newPortPool(ip netip.Addr, lo, hi int) (*portPool, error) {
	if lo <= 0 || hi > 65535 || lo > hi {
		return nil, fmt.Errorf("media: rtp port range %d-%d: invalid", lo, hi)
	}
	even := lo
	if even%2 == 1 {
		even++
	}
	if even+1 > hi {
		return nil, fmt.Errorf("media: rtp port range %d-%d: no even/odd port pair", lo, hi)
	}
	p := &portPool{ip: ip, min: lo, max: hi, state: make([]portState, hi-lo+1)}
	p.nCool = min(len(p.state)/4, 256)
	return p, nil
}

// size is the number of ports in the range.
func (p *portPool) size() int { return len(p.state) }

// randIntN returns a uniformly random int in [0, n) from the system's CSPRNG: port choice is
// a defence, so it must not be predictable from earlier choices.
func randIntN(n int) int {
	var b [8]byte
	rand.Read(b[:])
	return int(binary.LittleEndian.Uint64(b[:]) % uint64(n))
}

// listen binds a random free port (and, unless mux, the odd port above an even one for RTCP)
// that the OS lets us bind. Ports held by other processes go to the cooling queue and are
// retried later. ErrNoPorts when nothing is left.
func (p *portPool) listen(mux bool) (rtpConn, rtcpConn *net.UDPConn, port int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for tries := 0; tries < 16; tries++ {
		port := p.pickLocked(mux)
		if port == 0 {
			p.thawLocked()
			if port = p.pickLocked(mux); port == 0 {
				break
			}
		}
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
		if err != nil {
			p.coolLocked(port) // taken by someone else: try it again much later
			continue
		}
		if mux {
			p.takeLocked(port)
			return c, nil, port, nil
		}
		rc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port+1))))
		if err != nil {
			c.Close()
			p.coolLocked(port + 1)
			continue
		}
		_ = rc.SetReadBuffer(1) // the kernel's minimum: nothing reads it
		p.takeLocked(port)
		p.takeLocked(port + 1)
		return c, rc, port, nil
	}
	return nil, nil, 0, ErrNoPorts
}

// pickLocked returns a random free port (0: none): an even port with its odd neighbour free
// for a pair; for a single port, first one whose neighbour is already taken (so pairs stay
// whole for legs that need them), then any.
func (p *portPool) pickLocked(mux bool) int {
	n := len(p.state)
	start := randIntN(n)
	free := func(port int) bool {
		return port >= p.min && port <= p.max && p.state[port-p.min] == portFree
	}
	if !mux {
		for i := 0; i < n; i++ {
			port := p.min + (start+i)%n
			if port%2 == 0 && free(port) && free(port+1) {
				return port
			}
		}
		return 0
	}
	for i := 0; i < n; i++ {
		port := p.min + (start+i)%n
		if free(port) && !free(port^1) {
			return port
		}
	}
	for i := 0; i < n; i++ {
		if port := p.min + (start+i)%n; free(port) {
			return port
		}
	}
	return 0
}

func (p *portPool) takeLocked(port int) {
	p.state[port-p.min] = portUsed
	p.inUse++
	p.notifyLocked()
}

// release returns a port the pool handed out (RTP, or RTCP separately) to the cooling queue.
func (p *portPool) release(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state[port-p.min] != portUsed {
		return
	}
	p.inUse--
	p.coolLocked(port)
	p.notifyLocked()
}

// coolLocked queues port; the oldest cooling port becomes free when the queue is full.
func (p *portPool) coolLocked(port int) {
	p.state[port-p.min] = portCooling
	p.cool = append(p.cool, port)
	for len(p.cool) > p.nCool {
		p.state[p.cool[0]-p.min] = portFree
		p.cool = p.cool[1:]
	}
}

// thawLocked frees every cooling port (nothing else was left).
func (p *portPool) thawLocked() {
	for _, port := range p.cool {
		p.state[port-p.min] = portFree
	}
	p.cool = p.cool[:0]
}

func (p *portPool) notifyLocked() {
	if p.onChange != nil {
		p.onChange(p.inUse, len(p.state)-p.inUse)
	}
}

// counts returns the ports in use and the ports not in use (free or cooling).
func (p *portPool) counts() (inUse, free int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inUse, len(p.state) - p.inUse
}
