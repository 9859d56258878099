// Package email is the email adapter: a small SMTP listener (RFC 5321 subset: EHLO/HELO, MAIL,
// RCPT, DATA, RSET, NOOP, QUIT) on loopback for inbound mail, which the operator's MX relays
// to, and replies through a configured SMTP relay. Conversations thread by Message-ID,
// In-Reply-To and References.
//
// Invariants:
//  1. The listener is never a relay and never holds a client: it accepts recipients only in
//     its own domains (550 otherwise), RCPT only after MAIL (503), at most max_recipients
//     (452), command lines of at most 1 KiB (500), mail of at most max_bytes (552, also
//     announced by SIZE), max_connections sessions and max_connections_per_source from one
//     address (421); 20 refused commands end a session. Every refusal is counted
//     (ccswitch_channels_refused_total{adapter="email"}) and logged once a minute per source.
//  2. A mail is deduplicated by its sender and Message-ID, so another sender cannot make a
//     customer's mail a "duplicate"; it threads into a conversation by In-Reply-To or
//     References only when its sender is that conversation's customer.
//  3. Nothing a customer wrote reaches an outgoing header unchecked: the recipient is a plain
//     address (no quoted local part, no CR or LF), a threading Message-ID is <x@y> of
//     printable characters, the subject is encoded; a mail failing this is not sent.
//  4. A machine's mail (Auto-Submitted other than "no", Precedence bulk, junk or list, the null
//     sender <>) is stored and queued like any other, but gets no greeting or flow answer.
package email

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/ratelog"
	"github.com/ccswitch/ccswitch/store"
)

// Adapter is the SMTP listener and the sender.
type Adapter struct {
	cfg     channels.Email
	domains []string // lower case
	recv    channels.Receiver
	log     *slog.Logger
	rlog    *ratelog.Logger
}

// refuser counts refusals; channels.Service implements it.
type refuser interface{ Refused(adapter, reason string) }

// refuse counts and logs (once a minute per source and reason) a refusal.
func (a *Adapter) refuse(reason, source string) {
	if r, ok := a.recv.(refuser); ok {
		r.Refused("email", reason)
	}
	a.rlog.Warn(reason+"|"+source, "mail refused", "reason", reason, "source", source)
}

// New returns the adapter.
func New(cfg channels.Email, recv channels.Receiver, log *slog.Logger) *Adapter {
	cfg.Listen = cmp.Or(cfg.Listen, "127.0.0.1:2525")
	cfg.Domain = cmp.Or(cfg.Domain, "ccswitch.local")
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = config.DefaultEmailMaxBytes
	}
	if cfg.MaxRecipients <= 0 {
		cfg.MaxRecipients = config.DefaultEmailMaxRecipients
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = config.DefaultEmailMaxConnections
	}
	if cfg.MaxConnectionsPerSource <= 0 {
		cfg.MaxConnectionsPerSource = config.DefaultEmailMaxConnectionsPerSource
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Adapter{cfg: cfg, recv: recv, log: log.With("component", "channels.email")}
	a.rlog = ratelog.New(a.log, time.Minute)
	domains := cfg.Domains
	if len(domains) == 0 {
		domains = []string{cfg.Domain}
		if ValidAddress(cfg.Address) {
			domains = append(domains, domainOf(cfg.Address))
		}
	}
	for _, d := range domains {
		a.domains = append(a.domains, strings.ToLower(d))
	}
	return a
}

// Name implements channels.Adapter.
func (a *Adapter) Name() string { return "email" }

// Run listens on the configured address until ctx ends.
func (a *Adapter) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("email: listen %s: %w", a.cfg.Listen, err)
	}
	return a.Serve(ctx, ln)
}

var decoder = mime.WordDecoder{}

// parse turns a mail into an Inbound: the sender (From, else the envelope), the subject, the
// threading headers that are well formed, the first text/plain part and the attachments'
// metadata. null is the null envelope sender (<>: a bounce).
func (a *Adapter) parse(raw []byte, envFrom string, null bool) (channels.Inbound, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return channels.Inbound{}, err
	}
	h := msg.Header
	in := channels.Inbound{Adapter: "email", MessageID: messageID(h.Get("Message-Id")), InReplyTo: messageID(h.Get("In-Reply-To"))}
	for _, ref := range strings.Fields(h.Get("References")) {
		if ValidMessageID(ref) && len(in.References) < 20 {
			in.References = append(in.References, ref)
		}
	}
	// The address replies go to must be a plain one (invariant 3): a From with a quoted
	// local part or a control character falls back to the envelope sender, else the mail is
	// refused.
	if addr, err := mail.ParseAddress(h.Get("From")); err == nil && ValidAddress(addr.Address) {
		in.From, in.Name = addr.Address, strings.Map(printable, addr.Name)
	} else if ValidAddress(envFrom) {
		in.From = envFrom
	}
	in.From = channels.EmailAddr(in.From)
	if in.From == "" {
		return in, errors.New("no plain sender address")
	}
	in.Automatic = null || automatic(h)
	in.Identities = []store.Identity{{Kind: "email", Value: in.From}}
	in.Subject, _ = decoder.DecodeHeader(h.Get("Subject"))
	in.Subject = strings.Map(printable, in.Subject)
	if t, err := h.Date(); err == nil {
		in.Time = t
	}
	if in.MessageID == "" {
		b := make([]byte, 12)
		rand.Read(b)
		in.MessageID = "<" + base64.RawURLEncoding.EncodeToString(b) + "@" + a.cfg.Domain + ">"
	}
	// Keyed by sender and Message-ID (invariant 2): another sender reusing the id is another mail.
	in.ProviderID = in.From + " " + in.MessageID
	text, atts, err := walk(textproto.MIMEHeader(h), msg.Body, 0)
	if err != nil {
		return in, err
	}
	for i := range atts {
		if why := a.cfg.Limits.Allow(atts[i].Type, atts[i].Size); why != "" {
			atts[i].Rejected = why
		}
	}
	in.Text, in.Attachments = strings.TrimSpace(text), atts
	if in.Subject != "" && in.InReplyTo == "" {
		in.Text = strings.TrimSpace(in.Subject + "\n\n" + in.Text)
	}
	return in, nil
}

// messageID is v when it is one well-formed Message-ID, else "".
func messageID(v string) string {
	if v = strings.TrimSpace(v); ValidMessageID(v) {
		return v
	}
	return ""
}

// automatic reports a machine's mail (RFC 3834): Auto-Submitted other than "no", or
// Precedence bulk, junk or list (invariant 4).
func automatic(h mail.Header) bool {
	if as := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); as != "" && !strings.HasPrefix(as, "no") {
		return true
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "bulk", "junk", "list":
		return true
	}
	return false
}

// printable drops control characters (a CR or LF in a decoded subject or name).
func printable(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return -1
	}
	return r
}

// walk returns the first text/plain body and the attachments under one MIME entity.
func walk(h textproto.MIMEHeader, body io.Reader, depth int) (string, []store.Attachment, error) {
	ct, params, err := mime.ParseMediaType(cmp.Or(h.Get("Content-Type"), "text/plain"))
	if err != nil {
		ct = "text/plain"
	}
	if strings.HasPrefix(ct, "multipart/") && depth < 5 {
		mr := multipart.NewReader(body, params["boundary"])
		var text string
		var atts []store.Attachment
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return text, atts, err
			}
			t, a, err := walk(p.Header, p, depth+1)
			if err != nil {
				return text, atts, err
			}
			if text == "" {
				text = t
			}
			atts = append(atts, a...)
		}
		return text, atts, nil
	}
	var r io.Reader = body
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &newlineStripper{r: bufio.NewReader(r)})
	}
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	if disp == "attachment" || (!strings.HasPrefix(ct, "text/") && ct != "") {
		n, _ := io.Copy(io.Discard, r)
		name := cmp.Or(dparams["filename"], params["name"])
		return "", []store.Attachment{{Type: ct, Size: n, Name: name}}, nil
	}
	if ct != "text/plain" {
		io.Copy(io.Discard, r)
		return "", nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	return string(b), nil, err
}

type newlineStripper struct{ r *bufio.Reader }

func (n *newlineStripper) Read(p []byte) (int, error) {
	i := 0
	for i < len(p) {
		c, err := n.r.ReadByte()
		if err != nil {
			if i > 0 {
				return i, nil
			}
			return 0, err
		}
		if c != '\r' && c != '\n' {
			p[i] = c
			i++
		}
	}
	return i, nil
}

// Send mails m to the conversation's address through the relay, answering its thread. It
// returns the reply's Message-ID, which threads the customer's next answer.
func (a *Adapter) Send(ctx context.Context, conv store.Conversation, m store.Message) (string, error) {
	if a.cfg.Relay == "" || a.cfg.Address == "" {
		return "", errors.New("email: send: no relay or from address configured")
	}
	// Invariant 3: nothing unchecked reaches a header or a command.
	if !ValidAddress(conv.Address) {
		return "", fmt.Errorf("email: send: %w: recipient %q is not a plain address", channels.ErrUndeliverable, conv.Address)
	}
	b := make([]byte, 12)
	rand.Read(b)
	id := "<" + base64.RawURLEncoding.EncodeToString(b) + "@" + a.cfg.Domain + ">"
	subject := strings.Map(printable, cmp.Or(conv.Subject, "Your message"))
	if !strings.HasPrefix(strings.ToLower(subject), "re:") {
		subject = "Re: " + subject
	}
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: %s\r\n", a.cfg.Address, conv.Address,
		mime.QEncoding.Encode("utf-8", subject), time.Now().Format(time.RFC1123Z), id)
	if ValidMessageID(conv.Thread) {
		fmt.Fprintf(&msg, "In-Reply-To: %s\r\nReferences: %s\r\n", conv.Thread, conv.Thread)
	}
	msg.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&msg)
	qp.Write([]byte(strings.ReplaceAll(m.Text, "\n", "\r\n")))
	qp.Close()
	msg.WriteString("\r\n")

	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", a.cfg.Relay)
	if err != nil {
		return "", fmt.Errorf("email: send: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(a.cfg.Relay)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return "", fmt.Errorf("email: send: %w", err)
	}
	defer c.Close()
	if err := c.Hello(a.cfg.Domain); err != nil {
		return "", fmt.Errorf("email: send: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return "", fmt.Errorf("email: send: starttls: %w", err)
		}
	}
	if a.cfg.RelayUser != "" {
		if err := c.Auth(smtp.PlainAuth("", a.cfg.RelayUser, a.cfg.RelayPass, host)); err != nil {
			return "", fmt.Errorf("email: send: auth: %w", err)
		}
	}
	if err := c.Mail(a.cfg.Address); err != nil {
		return "", fmt.Errorf("email: send: %w", err)
	}
	if err := c.Rcpt(conv.Address); err != nil {
		return "", fmt.Errorf("email: send: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return "", fmt.Errorf("email: send: %w", err)
	}
	if _, err := w.Write(msg.Bytes()); err != nil {
		return "", fmt.Errorf("email: send: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("email: send: %w", err)
	}
	c.Quit()
	return id, nil
}
