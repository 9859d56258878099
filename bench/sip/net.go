package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// parseSNMP returns the counters of one protocol ("Udp") of a /proc/net/snmp text, where each
// protocol has a header line of names followed by a line of values.
func parseSNMP(r io.Reader, proto string) (map[string]uint64, error) {
	sc := bufio.NewScanner(r)
	prefix := proto + ":"
	var names []string
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != prefix {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		out := map[string]uint64{}
		for i, v := range f[1:] {
			if i >= len(names) {
				break
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("snmp %s %s: %w", proto, names[i], err)
			}
			out[names[i]] = n
		}
		return out, nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("snmp: no %s lines", proto)
}

// udpCounters reads the UDP counters of this network namespace.
func udpCounters() map[string]uint64 {
	f, err := os.Open("/proc/net/snmp")
	if err != nil {
		return nil
	}
	defer f.Close()
	m, _ := parseSNMP(f, "Udp")
	return m
}

// loadAvg1 is the 1-minute load average, a hint of how busy the shared machine was.
func loadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// portFree reports an error when a UDP port of 127.0.0.1 is already bound by another program.
func portFree(port int) error {
	c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return fmt.Errorf("udp 127.0.0.1:%d is in use by another program (ss -lunp 'sport = :%d'): %w", port, port, err)
	}
	return c.Close()
}

// waitPort waits up to 30 s for a UDP port of 127.0.0.1 to be free: on a shared machine
// someone may be running ccswitch or SIPp by hand for a moment.
func waitPort(ctx context.Context, port int, logf func(string, ...any)) error {
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		err := portFree(port)
		if err == nil {
			return nil
		}
		if i == 0 {
			logf("waiting up to 30s: %v", err)
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}

// sipOptions sends one SIP OPTIONS over UDP to addr and returns the status code of the final
// response, waiting at most timeout.
func sipOptions(addr string, seq int, timeout time.Duration) (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	dst, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return 0, err
	}
	local := c.LocalAddr().String()
	msg := fmt.Sprintf("OPTIONS sip:%[1]s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %[2]s;branch=z9hG4bK-bench-%[3]d-%[4]d;rport\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:bench@127.0.0.1>;tag=bench%[3]d\r\n"+
		"To: <sip:%[1]s>\r\n"+
		"Call-ID: bench-%[3]d-%[4]d@127.0.0.1\r\n"+
		"CSeq: %[3]d OPTIONS\r\n"+
		"Accept: application/sdp\r\n"+
		"Content-Length: 0\r\n\r\n", addr, local, seq, os.Getpid())
	if _, err := c.WriteTo([]byte(msg), dst); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 65535)
	for {
		_ = c.SetReadDeadline(deadline)
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return 0, err
		}
		code, err := statusCode(buf[:n])
		if err != nil {
			return 0, err
		}
		if code >= 200 {
			return code, nil
		}
	}
}

// statusCode parses the status line of a SIP response.
func statusCode(b []byte) (int, error) {
	line, _, _ := strings.Cut(string(b), "\r\n")
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "SIP/2.0" {
		return 0, fmt.Errorf("not a SIP response: %.60q", line)
	}
	return strconv.Atoi(f[1])
}

// waitOptions polls addr with OPTIONS until it answers 200, p exits, or ctx ends.
func waitOptions(ctx context.Context, addr string, p *process) error {
	var last error
	for seq := 1; ; seq++ {
		code, err := sipOptions(addr, seq, 300*time.Millisecond)
		if err == nil && code == 200 {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("OPTIONS answered %d", code)
		}
		last = err
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited before answering OPTIONS on %s: %v", p.name, addr, p.err)
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("no 200 to OPTIONS from %s", addr), last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// parseProcNetUDP sums the "drops" column of /proc/net/udp (receive-buffer and other drops,
// per socket) by local port, so a step can say whose socket dropped.
func parseProcNetUDP(r io.Reader) (map[int]uint64, error) {
	sc := bufio.NewScanner(r)
	out := map[int]uint64{}
	first := true
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if first {
			first = false
			if len(f) == 0 || f[len(f)-1] != "drops" {
				return nil, errors.New("proc net udp: header does not end with drops")
			}
			continue
		}
		if len(f) < 13 {
			continue
		}
		_, hexPort, ok := strings.Cut(f[1], ":")
		if !ok {
			return nil, fmt.Errorf("proc net udp: local address %q", f[1])
		}
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if err != nil {
			return nil, fmt.Errorf("proc net udp: port %q: %w", hexPort, err)
		}
		drops, err := strconv.ParseUint(f[len(f)-1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("proc net udp: drops %q: %w", f[len(f)-1], err)
		}
		out[int(port)] += drops
	}
	return out, sc.Err()
}

// socketDrops reads /proc/net/udp; nil when it cannot.
func socketDrops() map[int]uint64 {
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return nil
	}
	defer f.Close()
	m, _ := parseProcNetUDP(f)
	return m
}
