package email

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fixed protocol bounds (RFC 5321 4.5.3.1: a command line is at most 512 octets; we allow
// twice that for extension parameters).
const (
	maxCommandLine = 1024
	maxBadCommands = 20               // unknown, out of order or refused commands before 421
	commandTimeout = 5 * time.Minute  // between two commands (RFC 5321 4.5.3.2)
	dataTimeout    = 10 * time.Minute // the whole DATA
	sessionTimeout = 30 * time.Minute // the whole session
)

var errLineTooLong = errors.New("line too long")

// Serve accepts SMTP sessions on ln until ctx ends; it returns after they finished. Sessions
// beyond max_connections, or max_connections_per_source from one address, get 421 and are
// closed (package invariant 1).
func (a *Adapter) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	g := &gate{per: map[netip.Addr]int{}}
	for {
		c, err := ln.Accept()
		if err != nil {
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("email: accept: %w", err)
		}
		src := sourceOf(c)
		release, why := g.enter(src, a.cfg.MaxConnections, a.cfg.MaxConnectionsPerSource)
		if why != "" {
			a.refuse(why, src.String())
			c.SetWriteDeadline(time.Now().Add(time.Second))
			fmt.Fprintf(c, "421 4.7.0 %s too many connections, try again later\r\n", a.cfg.Domain)
			c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer release()
			defer c.Close()
			unwatch := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
			defer unwatch()
			a.session(ctx, c, src.String())
		}()
	}
}

func sourceOf(c net.Conn) netip.Addr {
	ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	return ap.Addr().Unmap()
}

// gate counts open sessions, in all and by source address.
type gate struct {
	mu    sync.Mutex
	total int
	per   map[netip.Addr]int
}

func (g *gate) enter(src netip.Addr, max, perSource int) (release func(), why string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.total >= max:
		return nil, "connections"
	case g.per[src] >= perSource:
		return nil, "connections_per_source"
	}
	g.total++
	g.per[src]++
	return sync.OnceFunc(func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.total--
		if g.per[src]--; g.per[src] <= 0 {
			delete(g.per, src)
		}
	}), ""
}

// envelope is one mail's MAIL and RCPT.
type envelope struct {
	mail  bool   // MAIL was accepted
	from  string // "" for the null sender <>
	rcpts []string
}

// session speaks SMTP on c until QUIT, an error, too many bad commands or the session's time
// is up (package invariant 1).
func (a *Adapter) session(ctx context.Context, c net.Conn, src string) {
	br := bufio.NewReaderSize(c, 4096)
	tp := textproto.NewReader(br)
	w := bufio.NewWriter(c)
	end := time.Now().Add(sessionTimeout)
	reply := func(code int, msg string) bool {
		c.SetWriteDeadline(time.Now().Add(time.Minute))
		fmt.Fprintf(w, "%d %s\r\n", code, msg)
		return w.Flush() == nil
	}
	bad := 0
	refuse := func(code int, reason, msg string) bool {
		a.refuse(reason, src)
		if bad++; bad > maxBadCommands {
			reply(421, "4.7.0 too many errors, closing")
			return false
		}
		return reply(code, msg)
	}
	if !reply(220, a.cfg.Domain+" ccswitch ESMTP") {
		return
	}
	var env envelope
	for {
		c.SetReadDeadline(earlier(time.Now().Add(commandTimeout), end))
		line, err := readLine(br, maxCommandLine)
		if errors.Is(err, errLineTooLong) {
			if !refuse(500, "line_too_long", "5.5.2 line too long") {
				return
			}
			continue
		}
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			c.SetWriteDeadline(time.Now().Add(time.Minute))
			fmt.Fprintf(w, "250-%s\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 SIZE %d\r\n", a.cfg.Domain, a.cfg.MaxBytes)
			if w.Flush() != nil {
				return
			}
			env = envelope{}
		case "HELO":
			env = envelope{}
			reply(250, a.cfg.Domain)
		case "MAIL":
			if env.mail {
				if !refuse(503, "out_of_order", "5.5.1 MAIL already given") {
					return
				}
				continue
			}
			addr, params, ok := pathArg(arg, "FROM:")
			if !ok || (addr != "" && !ValidAddress(addr)) {
				if !refuse(501, "bad_address", "5.1.7 bad sender address") {
					return
				}
				continue
			}
			if size, err := strconv.ParseInt(param(params, "SIZE"), 10, 64); err == nil && size > a.cfg.MaxBytes {
				if !refuse(552, "too_large", "5.3.4 message size exceeds fixed limit") {
					return
				}
				continue
			}
			env = envelope{mail: true, from: addr}
			reply(250, "2.1.0 OK")
		case "RCPT":
			addr, _, ok := pathArg(arg, "TO:")
			switch {
			case !env.mail:
				ok = refuse(503, "out_of_order", "5.5.1 need MAIL first")
			case !ok || !ValidAddress(addr):
				ok = refuse(501, "bad_address", "5.1.3 bad recipient address")
			case !slices.Contains(a.domains, domainOf(addr)):
				ok = refuse(550, "relay", "5.7.1 relaying denied: not a domain of this server")
			case len(env.rcpts) >= a.cfg.MaxRecipients:
				ok = refuse(452, "recipients", "4.5.3 too many recipients")
			default:
				env.rcpts = append(env.rcpts, addr)
				ok = reply(250, "2.1.5 OK")
			}
			if !ok {
				return
			}
		case "DATA":
			if len(env.rcpts) == 0 {
				if !refuse(503, "out_of_order", "5.5.1 need RCPT first") {
					return
				}
				continue
			}
			if !reply(354, "end data with <CR><LF>.<CR><LF>") {
				return
			}
			code, msg, ok := a.data(ctx, c, tp, env, earlier(time.Now().Add(dataTimeout), end), src)
			if !ok {
				return
			}
			env = envelope{}
			if !reply(code, msg) {
				return
			}
		case "RSET":
			env = envelope{}
			reply(250, "2.0.0 OK")
		case "NOOP":
			reply(250, "2.0.0 OK")
		case "QUIT":
			reply(221, "2.0.0 bye")
			return
		default:
			if !refuse(502, "unknown_command", "5.5.2 command not implemented") {
				return
			}
		}
	}
}

// data reads one mail's content and stores it. A mail larger than max_bytes is read to its
// end (up to as much again, then the session is closed) and refused with 552, so the client
// sees the answer rather than a hang. ok is false when the session must end.
func (a *Adapter) data(ctx context.Context, c net.Conn, tp *textproto.Reader, env envelope, deadline time.Time, src string) (code int, msg string, ok bool) {
	c.SetReadDeadline(deadline)
	dr := tp.DotReader()
	raw, err := io.ReadAll(io.LimitReader(dr, a.cfg.MaxBytes+1))
	if err != nil {
		return 0, "", false
	}
	if int64(len(raw)) > a.cfg.MaxBytes {
		a.refuse("too_large", src)
		if n, err := io.Copy(io.Discard, io.LimitReader(dr, a.cfg.MaxBytes)); err != nil || n == a.cfg.MaxBytes {
			c.SetWriteDeadline(time.Now().Add(time.Second))
			fmt.Fprintf(c, "552 5.3.4 message size exceeds fixed limit\r\n")
			return 0, "", false
		}
		return 552, "5.3.4 message size exceeds fixed limit", true
	}
	in, err := a.parse(raw, env.from, env.from == "")
	if err != nil {
		a.refuse("bad_message", src)
		return 550, "5.6.0 message not accepted: " + err.Error(), true
	}
	// 250 only once the message is stored (channels invariant 1); else the MX retries.
	if _, err := a.recv.Receive(ctx, in); err != nil {
		a.log.Error("store inbound", "message_id", in.MessageID, "error", err)
		return 451, "4.3.0 temporary failure, try again", true
	}
	return 250, "2.0.0 OK queued", true
}

// readLine reads one CRLF (or LF) terminated line of at most max bytes; a longer one is
// consumed to its end and reported as errLineTooLong.
func readLine(br *bufio.Reader, max int) (string, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) <= max+2 {
			line = append(line, frag...)
		} else {
			line = line[:0:0]
			max = -1 // too long: keep reading to the end of it
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		if max < 0 {
			return "", errLineTooLong
		}
		return strings.TrimRight(string(line), "\r\n"), nil
	}
}

// pathArg parses "FROM:<addr> params" (or "TO:"); addr is "" for the null path <>.
func pathArg(arg, prefix string) (addr, params string, ok bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", "", false
	}
	p := strings.TrimLeft(arg[len(prefix):], " ")
	if !strings.HasPrefix(p, "<") {
		addr, params, _ = strings.Cut(p, " ")
		return addr, params, addr != ""
	}
	i := strings.IndexByte(p, '>')
	if i < 0 {
		return "", "", false
	}
	addr = p[1:i]
	if j := strings.LastIndexByte(addr, ':'); j >= 0 && strings.HasPrefix(addr, "@") {
		addr = addr[j+1:] // a source route (RFC 5321 4.1.2): ignored
	}
	return addr, strings.TrimSpace(p[i+1:]), true
}

// param is the value of an ESMTP parameter (SIZE=123) in params, or "".
func param(params, name string) string {
	for _, p := range strings.Fields(params) {
		if k, v, ok := strings.Cut(p, "="); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
