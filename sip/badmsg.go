package sip

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sipgo's UDP transport drops a datagram it cannot parse (logging it) before any handler
// could answer. udpConn and parseFailures turn those drops into a stateless 400 when the
// datagram still has the headers a response needs (RFC 3261 §8.2, §18.2.2).
//
// How: each listening socket is wrapped; its single reader goroutine (sipgo's) records the
// last datagram and its source under the wrapper's mutex. sipgo then parses the datagram on
// that same goroutine and, on failure, logs "failed to parse" with the data; our log handler
// finds the socket whose last datagram is that data and answers from there.

// udpConn wraps a listening socket to remember the last datagram read.
type udpConn struct {
	*net.UDPConn
	mu   sync.Mutex
	last []byte // sipgo's read buffer, valid until the next read on this socket
	from net.Addr
}

func (c *udpConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.UDPConn.ReadFrom(p)
	c.mu.Lock()
	c.last, c.from = p[:n], addr
	c.mu.Unlock()
	return n, addr, err
}

// badMessages answers unparsable requests with 400, at most rate per second.
type badMessages struct {
	conns  []*udpConn
	tokens atomic.Int64 // refilled each second
	last   atomic.Int64 // unix second of the last refill
	rate   int64
}

func (b *badMessages) answer(data string) {
	if len(b.conns) == 0 || strings.HasPrefix(data, "SIP/") {
		return // a response: never answered
	}
	now := time.Now().Unix()
	if b.last.Swap(now) != now {
		b.tokens.Store(b.rate)
	}
	if b.tokens.Add(-1) < 0 {
		return
	}
	for _, c := range b.conns {
		c.mu.Lock()
		match := c.last != nil && string(c.last) == data
		from := c.from
		c.mu.Unlock()
		if !match {
			continue
		}
		if res, dest := badRequest(data, from); res != nil {
			c.UDPConn.WriteTo(res, dest)
		}
		return
	}
}

// badRequest builds a 400 from the raw header lines of an unparsable request, and where
// to send it: the source IP with the Via port (or the source port with rport). It returns
// nil when a header a response needs (Via, From, To, Call-ID, CSeq) is missing.
func badRequest(data string, from net.Addr) ([]byte, net.Addr) {
	head, _, _ := strings.Cut(data, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	if len(lines) < 2 {
		return nil, nil
	}
	var vias []string
	var fromH, toH, callID, cseq string
	for _, l := range lines[1:] {
		name, val, ok := strings.Cut(l, ":")
		if !ok || strings.ContainsAny(val, "\r\n") {
			continue
		}
		val = strings.TrimSpace(val)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "v":
			vias = append(vias, val)
		case "from", "f":
			fromH = val
		case "to", "t":
			toH = val
		case "call-id", "i":
			callID = val
		case "cseq":
			cseq = val
		}
	}
	if len(vias) == 0 || fromH == "" || toH == "" || callID == "" || cseq == "" {
		return nil, nil
	}
	if !strings.Contains(strings.ToLower(toH), "tag=") {
		toH += ";tag=" + newID()[:10]
	}
	var b bytes.Buffer
	b.WriteString("SIP/2.0 400 Bad Request\r\n")
	for _, v := range vias {
		b.WriteString("Via: " + v + "\r\n")
	}
	b.WriteString("From: " + fromH + "\r\nTo: " + toH + "\r\nCall-ID: " + callID + "\r\nCSeq: " + cseq + "\r\nContent-Length: 0\r\n\r\n")

	dest := from
	if ua, ok := from.(*net.UDPAddr); ok {
		if port, rport := viaPort(vias[0]); !rport && port > 0 {
			dest = &net.UDPAddr{IP: ua.IP, Port: port, Zone: ua.Zone}
		} else if !rport {
			dest = &net.UDPAddr{IP: ua.IP, Port: 5060, Zone: ua.Zone}
		}
	}
	return b.Bytes(), dest
}

// viaPort returns the sent-by port of a Via value and whether it asks for rport.
func viaPort(via string) (int, bool) {
	_, rest, ok := strings.Cut(via, " ")
	if !ok {
		return 0, false
	}
	rest = strings.TrimSpace(rest)
	sentBy, params, _ := strings.Cut(rest, ";")
	rport := false
	for _, p := range strings.Split(params, ";") {
		if k, _, _ := strings.Cut(strings.TrimSpace(p), "="); strings.EqualFold(k, "rport") {
			rport = true
		}
	}
	sentBy = strings.TrimSpace(sentBy)
	if i := strings.LastIndex(sentBy, ":"); i >= 0 && !strings.HasSuffix(sentBy, "]") {
		p, err := strconv.Atoi(sentBy[i+1:])
		if err == nil {
			return p, rport
		}
	}
	return 0, rport
}

// levelFloor drops records below min: sipgo logs parse failures at ERROR with the whole
// datagram, and chatty INFO, which must not flood our logs; it keeps WARN and above. A
// parse failure is handed to bad (answered 400) and logged at Debug only.
type levelFloor struct {
	h   slog.Handler
	min slog.Level
	bad *badMessages
}

func (l levelFloor) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.min && l.h.Enabled(ctx, lv) || lv >= slog.LevelError && l.bad != nil
}

func (l levelFloor) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "failed to parse" {
		if l.bad != nil {
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "data" {
					l.bad.answer(a.Value.String())
					return false
				}
				return true
			})
		}
		return nil
	}
	if r.Level < l.min || !l.h.Enabled(ctx, r.Level) {
		return nil
	}
	return l.h.Handle(ctx, r)
}

func (l levelFloor) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFloor{h: l.h.WithAttrs(a), min: l.min, bad: l.bad}
}

func (l levelFloor) WithGroup(g string) slog.Handler {
	return levelFloor{h: l.h.WithGroup(g), min: l.min, bad: l.bad}
}
