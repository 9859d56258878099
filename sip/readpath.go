package sip

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/internal/ratelog"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/sip/validate"
)

// The UDP read path: every datagram passes inspectDatagram on its socket's reader goroutine
// before sipgo parses it (sip.WithTransportLayerReadFilter), and parsedDatagram after
// (sip.WithTransportLayerUDPParsedFilter, a hook of our fork, sip/sipgo/README.md): each
// datagram is parsed once. This is where a message that
// no handler would ever see is answered: sipgo drops what it cannot parse without a word,
// and answers a request it cannot key a transaction for with a bare 400. Stages, in order:
//
//  1. The per-source flood limit (edge-limits' readFilter), before any byte is looked at;
//     where both exist, the read filter admits a datagram, then returns inspectDatagram's
//     verdict on it.
//  2. Lexical checks (validate.Datagram): control bytes, bare CR/LF, header names that are
//     not tokens → stateless 400.
//  3. Normalisation (validate.Normalize): LWS around ';' and '=' in parameters, which RFC
//     3261 allows and sipgo mis-reads (RFC 4475 wsinv).
//  4. sipgo parses: a datagram it cannot parse gets a stateless 400 (416 for a Request-URI
//     of an unsupported scheme, RFC 4475 novelsc) instead of silence.
//  5. RFC 2543 requests (no z9hG4bK branch and no From tag, RFC 4475 inv2543), for which
//     sipgo cannot make a transaction key, get a branch computed from what RFC 3261 §17.2.3
//     matches them by, so that retransmissions, ACK and CANCEL find the same transaction.
//
// Stateless answers go out from the socket the datagram came in on, at most answerRate per
// second in all (a reflection guard); responses and ACKs are never answered. Each refusal is
// counted (ccswitch_sip_malformed_total) and logged once a minute per source and reason.

// answerRate bounds the stateless answers the read path sends per second.
const answerRate = 200

// readPath is the state of the UDP read path.
type readPath struct {
	conns   map[string]net.PacketConn // listening socket by local address
	answers answerBudget
	metrics *sipMetrics
	log     *ratelog.Logger
}

func newReadPath(pcs []*net.UDPConn, m *sipMetrics, log *ratelog.Logger) *readPath {
	if log == nil {
		log = ratelog.New(slog.New(slog.DiscardHandler), time.Minute)
	}
	p := &readPath{conns: make(map[string]net.PacketConn, len(pcs)),
		answers: answerBudget{rate: answerRate}, metrics: m, log: log}
	for _, c := range pcs {
		p.conns[c.LocalAddr().String()] = c
	}
	return p
}

// inspectDatagram is the read path's hook, sipgo's transport read filter (or the stage after
// the flood limit's in it). It returns the bytes for sipgo to parse, or nil to drop the
// datagram. It never returns an error: that would stop the UDP listener.
func (s *Server) inspectDatagram(props gsip.TransportReadProps, data []byte) ([]byte, error) {
	if props.Transport != "UDP" || s.reads == nil {
		return data, nil // streams: sipgo's stream parser frames them; validate.Request checks
	}
	return s.reads.datagram(props.LocalAddr, props.RemoteAddr, data), nil
}

// datagram runs stages 2–3 on one datagram, before sipgo parses it.
func (p *readPath) datagram(local, remote net.Addr, data []byte) []byte {
	if len(data) <= 4 && len(bytes.Trim(data, "\r\n")) == 0 {
		return data // a CRLF keepalive: sipgo ignores it
	}
	if f := validate.Datagram(data); f != "" {
		p.refuse(local, remote, data, string(f), 400, "Bad Request")
		return nil
	}
	return validate.Normalize(data)
}

// parsedDatagram is sipgo's UDP parsed filter (our fork's hook): stages 4–5 on what sipgo's
// parser made of a datagram, so that each datagram is parsed once.
func (s *Server) parsedDatagram(props gsip.TransportReadProps, data []byte, msg gsip.Message, err error) gsip.Message {
	if s.reads == nil {
		if err != nil {
			return nil
		}
		return msg
	}
	return s.reads.parsed(props.LocalAddr, props.RemoteAddr, data, msg, err)
}

// parsed answers a datagram sipgo could not parse (stage 4) and gives an RFC 2543 request a
// branch (stage 5).
func (p *readPath) parsed(local, remote net.Addr, data []byte, msg gsip.Message, err error) gsip.Message {
	if err != nil || msg == nil {
		if unsupportedScheme(data) {
			p.refuse(local, remote, data, "uri-scheme", 416, "Unsupported URI Scheme")
			return nil
		}
		p.refuse(local, remote, data, "unparsable", 400, "Bad Request")
		return nil
	}
	if req, ok := msg.(*gsip.Request); ok && rfc2543(req) {
		via := req.Via()
		if via.Params == nil {
			via.Params = gsip.NewParams()
		}
		via.Params.Add("branch", rfc2543Branch(req))
	}
	return msg
}

// refuse counts and logs a malformed datagram and answers it statelessly when it is a
// request with the headers a response needs.
func (p *readPath) refuse(local, remote net.Addr, data []byte, reason string, code int, phrase string) {
	p.metrics.malformed.WithLabelValues(reason).Inc()
	src := remote.String()
	if h, _, err := net.SplitHostPort(src); err == nil {
		src = h
	}
	p.log.Warn("malformed|"+reason+"|"+src, "malformed SIP message refused", "source", remote.String(), "reason", reason, "status", code)
	conn := p.conns[local.String()]
	if conn == nil || !p.answers.allow(time.Now()) {
		return
	}
	if res, dest := statelessResponse(data, remote, code, phrase); res != nil {
		conn.WriteTo(res, dest)
	}
}

// answerBudget allows rate answers per second (a fixed window; no lock).
type answerBudget struct {
	rate   int64
	second atomic.Int64
	used   atomic.Int64
}

func (b *answerBudget) allow(now time.Time) bool {
	if sec := now.Unix(); b.second.Swap(sec) != sec {
		b.used.Store(0)
	}
	return b.used.Add(1) <= b.rate
}

// unsupportedScheme reports whether a datagram's request line names a Request-URI of a
// well-formed scheme other than sip, sips and tel.
func unsupportedScheme(data []byte) bool {
	line, _, _ := bytes.Cut(data, []byte("\r\n"))
	parts := strings.Split(string(line), " ")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "SIP/") {
		return false
	}
	scheme, _, ok := strings.Cut(parts[1], ":")
	if !ok || scheme == "" || !isAlpha(scheme[0]) {
		return false
	}
	for i := 1; i < len(scheme); i++ {
		c := scheme[i]
		if !isAlpha(c) && (c < '0' || c > '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	switch strings.ToLower(scheme) {
	case "sip", "sips", "tel":
		return false
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// rfc2543 reports whether sipgo cannot key a transaction for req: its top Via has no RFC
// 3261 branch and its From has no tag.
func rfc2543(req *gsip.Request) bool {
	via, from := req.Via(), req.From()
	if via == nil || from == nil || req.CSeq() == nil || req.CallID() == nil {
		return false
	}
	if b, ok := via.Params.Get("branch"); ok && strings.HasPrefix(b, gsip.RFC3261BranchMagicCookie) && len(b) > len(gsip.RFC3261BranchMagicCookie) {
		return false
	}
	_, tagged := from.Params.Get("tag")
	return !tagged
}

// rfc2543Branch derives a branch from what RFC 3261 §17.2.3 matches an RFC 2543 request by
// (Request-URI, From, Call-ID, CSeq number, top Via sent-by): the INVITE, its
// retransmissions, its CANCEL and the ACK of a failure get the same one. The To tag is left
// out: an ACK carries the tag of our answer, its INVITE none.
func rfc2543Branch(req *gsip.Request) string {
	h := sha256.New()
	for _, s := range []string{req.Recipient.String(), req.From().Address.String(), req.CallID().Value(),
		strconv.FormatUint(uint64(req.CSeq().SeqNo), 10), req.Via().SentBy()} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return gsip.RFC3261BranchMagicCookie + "-2543-" + hex.EncodeToString(h.Sum(nil)[:10])
}

// statelessResponse builds a response with code from the raw header lines of a request the
// read path refused, and where to send it: the source IP with the Via port (the source
// port with rport), RFC 3261 §18.2.2. It returns nil for responses, ACKs, and requests
// missing a header a response needs (Via, From, To, Call-ID, CSeq) or whose copied values
// carry control bytes.
func statelessResponse(data []byte, from net.Addr, code int, phrase string) ([]byte, net.Addr) {
	if bytes.HasPrefix(data, []byte("SIP/")) || bytes.HasPrefix(data, []byte("ACK ")) {
		return nil, nil
	}
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	if len(lines) < 2 {
		return nil, nil
	}
	var vias []string
	var fromH, toH, callID, cseq string
	for _, l := range lines[1:] {
		name, val, ok := strings.Cut(l, ":")
		if !ok {
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
	for _, v := range append([]string{fromH, toH, callID, cseq}, vias...) {
		if !printable(v) {
			return nil, nil
		}
	}
	if !strings.Contains(strings.ToLower(toH), "tag=") {
		toH += ";tag=" + newID()[:10]
	}
	var b bytes.Buffer
	b.WriteString("SIP/2.0 " + strconv.Itoa(code) + " " + phrase + "\r\n")
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

// printable reports whether a header value may be copied into an answer: no control byte.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
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
		if k, _, _ := strings.Cut(strings.TrimSpace(p), "="); strings.EqualFold(strings.TrimSpace(k), "rport") {
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

// sipgoLog is the handler sipgo logs through: it keeps WARN and above, at most once a
// minute per message, without the "data" attribute (whole datagrams, which may carry
// credentials and would let a peer write into our logs). Debug and Info are dropped.
type sipgoLog struct {
	h     slog.Handler
	limit *messageLimit
}

// messageLimit remembers when each message was last logged (bounded).
type messageLimit struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func newSipgoLog(h slog.Handler) sipgoLog {
	return sipgoLog{h: h, limit: &messageLimit{last: map[string]time.Time{}}}
}

func (l sipgoLog) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= slog.LevelWarn && l.h.Enabled(ctx, lv)
}

func (l sipgoLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn || !l.limit.allow(r.Message, r.Time) {
		return nil
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "data" {
			out.AddAttrs(a)
		}
		return true
	})
	return l.h.Handle(ctx, out)
}

func (l sipgoLog) WithAttrs(a []slog.Attr) slog.Handler {
	return sipgoLog{h: l.h.WithAttrs(a), limit: l.limit}
}

func (l sipgoLog) WithGroup(g string) slog.Handler {
	return sipgoLog{h: l.h.WithGroup(g), limit: l.limit}
}

func (m *messageLimit) allow(msg string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.last[msg]; ok && now.Sub(t) < time.Minute {
		return false
	}
	if len(m.last) >= 1024 {
		clear(m.last)
	}
	m.last[msg] = now
	return true
}

// udpReaders is how many goroutines read each UDP socket (our fork's option): one per core
// the runtime schedules on, at most 8. Each reads, filters and parses its own datagrams, so
// the read path spreads over the cores; the transaction layer orders what it must (a
// retransmission finds the transaction its original made, under one lock).
func udpReaders() int { return min(max(runtime.GOMAXPROCS(0), 1), 8) }
