// Package email is the email adapter: a small SMTP listener (RFC 5321 subset: EHLO/HELO, MAIL,
// RCPT, DATA, RSET, NOOP, QUIT) on loopback for inbound mail, which the operator's MX relays
// to, and replies through a configured SMTP relay. Conversations thread by Message-ID,
// In-Reply-To and References.
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
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/store"
)

// Adapter is the SMTP listener and the sender.
type Adapter struct {
	cfg  channels.Email
	recv channels.Receiver
	log  *slog.Logger
}

// New returns the adapter.
func New(cfg channels.Email, recv channels.Receiver, log *slog.Logger) *Adapter {
	cfg.Listen = cmp.Or(cfg.Listen, "127.0.0.1:2525")
	cfg.Domain = cmp.Or(cfg.Domain, "ccswitch.local")
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 10 << 20
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{cfg: cfg, recv: recv, log: log.With("component", "channels.email")}
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

// Serve accepts SMTP sessions on ln until ctx ends; it returns after they finished.
func (a *Adapter) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			wg.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("email: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			unwatch := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
			defer unwatch()
			a.session(ctx, c)
		}()
	}
}

func (a *Adapter) session(ctx context.Context, c net.Conn) {
	tp := textproto.NewConn(c)
	reply := func(code int, msg string) bool {
		c.SetWriteDeadline(time.Now().Add(time.Minute))
		return tp.PrintfLine("%d %s", code, msg) == nil
	}
	if !reply(220, a.cfg.Domain+" ccswitch ESMTP") {
		return
	}
	var from string
	var rcpts []string
	for {
		c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			c.SetWriteDeadline(time.Now().Add(time.Minute))
			tp.PrintfLine("250-%s", a.cfg.Domain)
			tp.PrintfLine("250-8BITMIME")
			tp.PrintfLine("250-PIPELINING")
			tp.PrintfLine("250 SIZE %d", a.cfg.MaxBytes)
		case "HELO":
			reply(250, a.cfg.Domain)
		case "MAIL":
			from, rcpts = pathArg(arg, "FROM:"), nil
			reply(250, "OK")
		case "RCPT":
			if from == "" && !strings.HasPrefix(strings.ToUpper(arg), "TO:") {
				reply(503, "need MAIL first")
				continue
			}
			rcpts = append(rcpts, pathArg(arg, "TO:"))
			reply(250, "OK")
		case "DATA":
			if len(rcpts) == 0 {
				reply(503, "need RCPT first")
				continue
			}
			if !reply(354, "end data with <CR><LF>.<CR><LF>") {
				return
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Minute))
			raw, err := io.ReadAll(io.LimitReader(tp.DotReader(), a.cfg.MaxBytes+1))
			if err != nil {
				return
			}
			if int64(len(raw)) > a.cfg.MaxBytes {
				io.Copy(io.Discard, tp.DotReader())
				reply(552, "message too large")
				continue
			}
			in, err := a.parse(raw, from)
			if err != nil {
				reply(554, "cannot parse message: "+err.Error())
				continue
			}
			// 250 only once the message is stored (channels invariant 1); else the MX retries.
			if _, err := a.recv.Receive(ctx, in); err != nil {
				a.log.Error("store inbound", "message_id", in.MessageID, "err", err)
				reply(451, "temporary failure, try again")
				continue
			}
			reply(250, "OK queued")
			from, rcpts = "", nil
		case "RSET":
			from, rcpts = "", nil
			reply(250, "OK")
		case "NOOP":
			reply(250, "OK")
		case "QUIT":
			reply(221, "bye")
			return
		default:
			reply(502, "command not implemented")
		}
	}
}

func pathArg(arg, prefix string) string {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return ""
	}
	p := strings.TrimSpace(arg[len(prefix):])
	if i := strings.IndexByte(p, '>'); strings.HasPrefix(p, "<") && i > 0 {
		p = p[1:i]
	}
	return p
}

var decoder = mime.WordDecoder{}

// parse turns a mail into an Inbound: the sender (From, else the envelope), the subject, the
// threading headers, the first text/plain part and the attachments' metadata.
func (a *Adapter) parse(raw []byte, envFrom string) (channels.Inbound, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return channels.Inbound{}, err
	}
	h := msg.Header
	in := channels.Inbound{Adapter: "email", MessageID: strings.TrimSpace(h.Get("Message-Id")),
		InReplyTo: strings.TrimSpace(h.Get("In-Reply-To")), References: strings.Fields(h.Get("References"))}
	in.From = envFrom
	if addr, err := mail.ParseAddress(h.Get("From")); err == nil {
		in.From, in.Name = addr.Address, addr.Name
	}
	in.From = channels.EmailAddr(in.From)
	if in.From == "" {
		return in, errors.New("no sender")
	}
	in.Identities = []store.Identity{{Kind: "email", Value: in.From}}
	in.Subject, _ = decoder.DecodeHeader(h.Get("Subject"))
	if t, err := h.Date(); err == nil {
		in.Time = t
	}
	if in.MessageID == "" {
		b := make([]byte, 12)
		rand.Read(b)
		in.MessageID = "<" + base64.RawURLEncoding.EncodeToString(b) + "@" + a.cfg.Domain + ">"
	}
	in.ProviderID = in.MessageID
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
	b := make([]byte, 12)
	rand.Read(b)
	id := "<" + base64.RawURLEncoding.EncodeToString(b) + "@" + a.cfg.Domain + ">"
	subject := cmp.Or(conv.Subject, "Your message")
	if !strings.HasPrefix(strings.ToLower(subject), "re:") {
		subject = "Re: " + subject
	}
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: %s\r\n", a.cfg.Address, conv.Address,
		mime.QEncoding.Encode("utf-8", subject), time.Now().Format(time.RFC1123Z), id)
	if conv.Thread != "" {
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
