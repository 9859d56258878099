package email_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/channels/email"
	"github.com/ccswitch/ccswitch/store"
)

// rawSMTP is an attacker's SMTP client: lines go out as written, replies come back as codes.
type rawSMTP struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// dialFrom connects from the loopback address local (127.0.0.x stands for another host) and
// returns the greeting's code.
func dialFrom(t *testing.T, addr, local string) (*rawSMTP, int) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	s := &rawSMTP{t: t, conn: conn, r: bufio.NewReader(conn)}
	code, _ := s.read()
	return s, code
}

// read returns the code and text of the next (possibly multi-line) reply; 0 when the server
// closed the connection.
func (s *rawSMTP) read() (int, string) {
	s.t.Helper()
	var text string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if err == io.EOF || strings.Contains(err.Error(), "reset") {
				return 0, text
			}
			s.t.Fatalf("read: %v (the server neither answered nor closed)", err)
		}
		var code int
		fmt.Sscanf(line, "%d", &code)
		text += line
		if len(line) < 4 || line[3] != '-' {
			return code, text
		}
	}
}

func (s *rawSMTP) cmd(line string) int {
	s.t.Helper()
	if _, err := io.WriteString(s.conn, line+"\r\n"); err != nil {
		return 0
	}
	code, _ := s.read()
	return code
}

func (s *rawSMTP) write(raw string) {
	s.t.Helper()
	if _, err := io.WriteString(s.conn, raw); err != nil {
		s.t.Fatal(err)
	}
}

// listener runs the adapter of cfg on a fresh service and returns the env and its address.
func listener(t *testing.T, cfg channels.Email) (*chantest.Env, string) {
	t.Helper()
	cfg.Route.Enabled = true
	cfg.Domain, cfg.Address = "support.example", "help@support.example"
	env := chantest.New(t, channels.Config{Email: cfg})
	a := email.New(cfg, env.Service, nil)
	env.Service.AddAdapter(a)
	return env, serve(t, a)
}

// TestSMTPRefusals (invariant 1): each attack, sent as raw SMTP, gets its answer and the
// refusal is counted; the session stays usable where RFC 5321 says it does.
func TestSMTPRefusals(t *testing.T) {
	body := func(n int) string {
		return "From: a@b.example\r\nSubject: s\r\n\r\n" + strings.Repeat("x", n) + "\r\n.\r\n"
	}
	for _, tc := range []struct {
		name   string
		script []string // lines; one starting with "<" is written raw as DATA
		codes  []int
		reason string
	}{
		{"relay to another domain", []string{"EHLO x", "MAIL FROM:<a@b.example>", "RCPT TO:<victim@elsewhere.example>"}, []int{250, 250, 550}, "relay"},
		{"relay by source route", []string{"EHLO x", "MAIL FROM:<a@b.example>", "RCPT TO:<@support.example:victim@elsewhere.example>"}, []int{250, 250, 550}, "relay"},
		{"quoted recipient", []string{"EHLO x", "MAIL FROM:<a@b.example>", `RCPT TO:<"v@elsewhere.example"@support.example>`}, []int{250, 250, 501}, "bad_address"},
		{"own domain in capitals", []string{"EHLO x", "MAIL FROM:<a@b.example>", "RCPT TO:<Help@SUPPORT.example>"}, []int{250, 250, 250}, ""},
		{"RCPT before MAIL", []string{"EHLO x", "RCPT TO:<help@support.example>", "DATA"}, []int{250, 503, 503}, "out_of_order"},
		{"quoted sender", []string{"EHLO x", `MAIL FROM:<"a,b@c.example"@evil.example>`}, []int{250, 501}, "bad_address"},
		{"announced size", []string{"EHLO x", "MAIL FROM:<a@b.example> SIZE=5000"}, []int{250, 552}, "too_large"},
		{"oversize mail is answered", []string{"EHLO x", "MAIL FROM:<a@b.example>", "RCPT TO:<help@support.example>", "DATA", "<" + body(1500), "NOOP"},
			[]int{250, 250, 250, 354, 552, 250}, "too_large"},
		{"far oversize mail is answered and closed", []string{"EHLO x", "MAIL FROM:<a@b.example>", "RCPT TO:<help@support.example>", "DATA", "<" + body(5000)},
			[]int{250, 250, 250, 354, 552}, "too_large"},
		{"long command line", []string{"NOOP " + strings.Repeat("x", 5000), "NOOP"}, []int{500, 250}, "line_too_long"},
		{"too many recipients", []string{"EHLO x", "MAIL FROM:<a@b.example>", "RCPT TO:<a@support.example>", "RCPT TO:<b@support.example>",
			"RCPT TO:<c@support.example>", "RCPT TO:<d@support.example>"}, []int{250, 250, 250, 250, 250, 452}, "recipients"},
		{"bad commands end the session", append(slicesRepeat("VRFY root", 20), "VRFY root", "NOOP"),
			append(slicesRepeat(502, 20), 421, 0), "unknown_command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, addr := listener(t, channels.Email{MaxBytes: 1000, MaxRecipients: 3})
			s, _ := dialFrom(t, addr, "127.0.0.1")
			for i, line := range tc.script {
				var code int
				if raw, ok := strings.CutPrefix(line, "<"); ok {
					s.write(raw)
					code, _ = s.read()
				} else {
					code = s.cmd(line)
				}
				if code != tc.codes[i] {
					t.Fatalf("%.60q answered %d, want %d", line, code, tc.codes[i])
				}
			}
			if tc.reason != "" && env.Refused("email", tc.reason) < 1 {
				t.Fatalf("refusal %q not counted", tc.reason)
			}
			if convs, _ := env.Store.Conversations(""); len(convs) != 0 {
				t.Fatalf("stored %d conversations", len(convs))
			}
		})
	}
}

func slicesRepeat[T any](v T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestSMTPConnectionsPerSource (invariant 1): a source holds at most
// max_connections_per_source sessions and all sources max_connections; the next get 421.
func TestSMTPConnectionsPerSource(t *testing.T) {
	env, addr := listener(t, channels.Email{MaxConnections: 4, MaxConnectionsPerSource: 2})
	for _, step := range []struct {
		from string
		code int
	}{{"127.0.0.1", 220}, {"127.0.0.1", 220}, {"127.0.0.1", 421}, {"127.0.0.2", 220}, {"127.0.0.3", 220}, {"127.0.0.4", 421}} {
		if _, code := dialFrom(t, addr, step.from); code != step.code {
			t.Fatalf("session from %s: %d, want %d", step.from, code, step.code)
		}
	}
	if env.Refused("email", "connections_per_source") != 1 || env.Refused("email", "connections") != 1 {
		t.Fatalf("refusals counted: per source %d, total %d", env.Refused("email", "connections_per_source"), env.Refused("email", "connections"))
	}
}

// send delivers one raw mail over SMTP and returns the final code.
func send(t *testing.T, addr, envFrom, raw string) int {
	t.Helper()
	s, _ := dialFrom(t, addr, "127.0.0.1")
	for _, l := range []string{"HELO x", "MAIL FROM:<" + envFrom + ">", "RCPT TO:<help@support.example>", "DATA"} {
		s.cmd(l)
	}
	s.write(raw + "\r\n.\r\n")
	code, _ := s.read()
	s.cmd("QUIT")
	return code
}

// TestThreadingAndDedupeAreTheSenders (invariant 2): another sender quoting a customer's
// Message-ID in In-Reply-To starts their own conversation, and reusing one is not a
// duplicate; the customer's own retry is.
func TestThreadingAndDedupeAreTheSenders(t *testing.T) {
	env, addr := listener(t, channels.Email{})
	ann := "From: ann@example.com\r\nSubject: my order\r\nMessage-ID: <m1@example.com>\r\n\r\nwhere is it?"
	if send(t, addr, "ann@example.com", ann) != 250 || send(t, addr, "ann@example.com", ann) != 250 {
		t.Fatal("ann's mail refused")
	}
	convs, _ := env.Store.Conversations("")
	if len(convs) != 1 {
		t.Fatalf("%d conversations after ann's mail and its retry", len(convs))
	}
	annConv := convs[0].ID
	for i, mallory := range []string{
		"From: mallory@evil.example\r\nSubject: re\r\nMessage-ID: <m1@example.com>\r\n\r\nsame id, other sender",
		"From: mallory@evil.example\r\nSubject: re\r\nMessage-ID: <x2@evil.example>\r\nIn-Reply-To: <m1@example.com>\r\n\r\nlet me in",
		"From: mallory@evil.example\r\nSubject: re\r\nMessage-ID: <x3@evil.example>\r\nReferences: <m1@example.com>\r\n\r\nlet me in",
	} {
		if code := send(t, addr, "mallory@evil.example", mallory); code != 250 {
			t.Fatalf("mallory's mail %d: %d", i, code)
		}
	}
	_, ms, _ := env.Service.Conversation(annConv, 0)
	if len(ms) != 1 {
		t.Fatalf("ann's conversation has %d messages: another sender threaded into it", len(ms))
	}
	convs, _ = env.Store.Conversations("")
	stored := 0
	for _, c := range convs {
		_, ms, _ := env.Service.Conversation(c.ID, 0)
		stored += len(ms)
	}
	if stored != 4 {
		t.Fatalf("%d messages stored, want 4 (ann once, mallory three times)", stored)
	}
	// Ann's own answer threads.
	if send(t, addr, "ann@example.com", "From: ann@example.com\r\nMessage-ID: <m2@example.com>\r\nIn-Reply-To: <m1@example.com>\r\n\r\nany news?") != 250 {
		t.Fatal("ann's answer refused")
	}
	if _, ms, _ = env.Service.Conversation(annConv, 0); len(ms) != 2 {
		t.Fatalf("ann's answer not threaded: %d messages", len(ms))
	}
}

// TestNoGreetingToMachines (invariant 4): a greeting answers a person's mail, never an
// auto-reply, a bulk mail or a bounce.
func TestNoGreetingToMachines(t *testing.T) {
	env, addr := listener(t, channels.Email{Route: channels.Route{Greeting: "We got your mail."}})
	for i, tc := range []struct {
		envFrom, headers string
		greeted          bool
	}{
		{"p@example.com", "", true},
		{"p@example.com", "Auto-Submitted: no\r\n", true},
		{"p@example.com", "Auto-Submitted: auto-replied\r\n", false},
		{"p@example.com", "Auto-Submitted: auto-generated\r\n", false},
		{"p@example.com", "Precedence: bulk\r\n", false},
		{"p@example.com", "Precedence: list\r\n", false},
		{"", "", false},
	} {
		id := fmt.Sprintf("<g%d@example.com>", i)
		raw := "From: p@example.com\r\n" + tc.headers + "Subject: s\r\nMessage-ID: " + id + "\r\n\r\nhello"
		if code := send(t, addr, tc.envFrom, raw); code != 250 {
			t.Fatalf("mail %d: %d", i, code)
		}
		conv, ok, _ := env.Store.Thread(id)
		if !ok {
			t.Fatalf("mail %d not stored", i)
		}
		_, ms, _ := env.Service.Conversation(conv, 0)
		greeted := len(ms) == 2 && ms[1].Dir == store.Out
		if greeted != tc.greeted {
			t.Errorf("mail %d (%q, sender %q): greeted %v, want %v", i, tc.headers, tc.envFrom, greeted, tc.greeted)
		}
	}
}

// rawRelay is an SMTP relay that keeps the envelope and the raw content of what it gets.
type rawRelay struct {
	addr string
	mu   sync.Mutex
	got  []relayed
}

type relayed struct {
	rcpts []string
	data  string
}

func newRawRelay(t *testing.T) *rawRelay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rr := &rawRelay{addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go rr.session(c)
		}
	}()
	return rr
}

func (rr *rawRelay) session(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "220 relay\r\n")
	var cur relayed
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		switch verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0]); {
		case verb == "RCPT":
			cur.rcpts = append(cur.rcpts, line)
			fmt.Fprintf(c, "250 ok\r\n")
		case verb == "DATA":
			fmt.Fprintf(c, "354 go\r\n")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			cur.data = b.String()
			rr.mu.Lock()
			rr.got = append(rr.got, cur)
			rr.mu.Unlock()
			cur = relayed{}
			fmt.Fprintf(c, "250 ok\r\n")
		case verb == "QUIT":
			fmt.Fprintf(c, "221 bye\r\n")
			return
		default:
			fmt.Fprintf(c, "250 ok\r\n")
		}
	}
}

// TestNoHeaderInjection (invariant 3): a stored address or Message-ID that would add a
// recipient or a header never reaches the relay as such; a plain one does.
func TestNoHeaderInjection(t *testing.T) {
	rr := newRawRelay(t)
	a := email.New(channels.Email{Domain: "support.example", Address: "help@support.example", Relay: rr.addr}, nil, nil)
	ctx := context.Background()
	m := store.Message{Text: "hello"}
	for _, tc := range []struct {
		name string
		conv store.Conversation
		sent bool
	}{
		{"quoted local part", store.Conversation{Address: `"victim@x.example,attacker"@evil.example`}, false},
		{"CRLF in address", store.Conversation{Address: "v@x.example\r\nBcc: attacker@evil.example"}, false},
		{"bare CR in address", store.Conversation{Address: "v@x.example\rBcc: attacker@evil.example"}, false},
		{"list of addresses", store.Conversation{Address: "v@x.example, attacker@evil.example"}, false},
		{"bare CR in thread", store.Conversation{Address: "v@x.example", Thread: "<a@b>\rBcc: attacker@evil.example"}, true},
		{"LF in thread", store.Conversation{Address: "v@x.example", Thread: "<a@b>\nBcc: attacker@evil.example"}, true},
		{"CR in subject", store.Conversation{Address: "v@x.example", Subject: "hi\r\nBcc: attacker@evil.example"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr.mu.Lock()
			rr.got = nil
			rr.mu.Unlock()
			_, err := a.Send(ctx, tc.conv, m)
			if (err == nil) != tc.sent || err != nil && !errors.Is(err, channels.ErrUndeliverable) {
				t.Fatalf("send: %v, want sent %v (or undeliverable: never retried)", err, tc.sent)
			}
			rr.mu.Lock()
			defer rr.mu.Unlock()
			for _, g := range rr.got {
				if len(g.rcpts) != 1 || g.rcpts[0] != "RCPT TO:<v@x.example>" {
					t.Fatalf("relay recipients %q", g.rcpts)
				}
				for _, l := range strings.Split(g.data, "\r\n") {
					if strings.HasPrefix(strings.ToLower(l), "bcc:") || strings.Contains(l, "\r") || strings.Contains(l, "\n") {
						t.Fatalf("injected header line %q in\n%s", l, g.data)
					}
				}
				if strings.Contains(g.data, "In-Reply-To") {
					t.Fatalf("a bad thread id was used:\n%s", g.data)
				}
			}
		})
	}
}

// TestInboundHeadersAreChecked (invariants 2, 3): a From with a quoted local part falls back
// to the envelope sender; a Message-ID with a bare CR is not kept.
func TestInboundHeadersAreChecked(t *testing.T) {
	env, addr := listener(t, channels.Email{})
	raw := "From: \"v@x.example,attacker\"@evil.example\r\nSubject: s\r\nMessage-ID: <a@b>\rBcc: attacker@evil.example\r\n\r\nhi"
	if code := send(t, addr, "plain@evil.example", raw); code != 250 {
		t.Fatalf("mail: %d", code)
	}
	convs, _ := env.Store.Conversations("")
	if len(convs) != 1 || convs[0].Address != "plain@evil.example" || !email.ValidMessageID(convs[0].Thread) || strings.Contains(convs[0].Thread, "Bcc") {
		t.Fatalf("conversation %+v", convs)
	}
	if code := send(t, addr, "", raw); code != 550 {
		t.Fatalf("no plain sender anywhere: %d, want 550", code)
	}
}
