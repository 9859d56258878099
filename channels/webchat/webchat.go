// Package webchat is the embeddable web chat: /widget.js (one <script> tag on the customer's
// site), a WebSocket at /chat/ws and a demo page at /chat/.
//
// Protocol (JSON text frames; "t" is the type):
//
//	client → server  {"t":"hello","visitor","token","conv","since","name","email","phone"}
//	                 {"t":"msg","cid","text"}            cid: a client-generated message id
//	                 {"t":"callme","cid"}                the "call me" button (no number: the
//	                                                     customer's verified one is called)
//	server → client  {"t":"welcome","visitor","token","conv"}
//	                 {"t":"ack","cid","conv","seq"}     the message is stored (durably)
//	                 {"t":"msg","conv","seq","dir","text","cid","time"}
//	                 {"t":"callme","cid"}               the callback is queued
//	                 {"t":"error","cid","error"}        refused (a msg stays pending)
//
// Reconnecting loses nothing: the widget keeps every message it sent until it is acked and
// sends it again after each hello (the server deduplicates on visitor+cid), and the hello
// carries the last seq it saw, from which the server sends the conversation's history again.
// The visitor id is issued by the server with an HMAC token (key from the store), so a
// visitor cannot read another's conversation by guessing ids.
//
// Invariants:
//  1. What a visitor types about themselves (email, phone, name) is a claim: stored on their
//     own record as a "claimed-…" hint, never a key that finds or links a customer (channels
//     invariant 7).
//  2. One address (an IPv6 one by its /64) has at most limits.connections sockets open, starts
//     at most limits.conversations_per_minute conversations and stores at most
//     limits.messages_per_minute messages (each a synced commit) a minute; a socket that keeps
//     sending past its refusals is closed. Every refusal is counted
//     (ccswitch_channels_refused_total{adapter="webchat"}) and logged once a minute per address.
//  3. A socket says hello within limits.hello_timeout and answers every ping within
//     limits.pong_timeout, or it is closed: a silent socket holds nothing for long.
package webchat

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/internal/ratelog"
	"github.com/ccswitch/ccswitch/store"
)

//go:embed widget.js
var widgetJS []byte

//go:embed demo.html
var demoHTML []byte

// Adapter serves the widget and its WebSocket and pushes replies to connected visitors.
type Adapter struct {
	cfg    atomic.Pointer[channels.WebChat] // replaced by Reconfigure; Limits defaulted
	svc    *channels.Service
	key    []byte
	log    *slog.Logger
	rlog   *ratelog.Logger
	limits *addrLimits
	client atomic.Pointer[func(*http.Request) netip.Addr]

	mu    sync.Mutex
	conns map[string]map[*websocket.Conn]struct{} // by visitor
}

// New returns the adapter; key signs visitor tokens (store.Secret("webchat", 32)).
func New(cfg channels.WebChat, svc *channels.Service, key []byte, log *slog.Logger) *Adapter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Adapter{svc: svc, key: key, log: log.With("component", "channels.webchat"),
		limits: newAddrLimits(), conns: map[string]map[*websocket.Conn]struct{}{}}
	a.rlog = ratelog.New(a.log, time.Minute)
	a.Reconfigure(cfg)
	return a
}

// Reconfigure takes new settings (allowed origins, limits) for sockets opened from now on; open
// widgets stay connected, and the counts of each address carry over.
func (a *Adapter) Reconfigure(cfg channels.WebChat) {
	cfg.Limits = cfg.Limits.WithDefaults()
	a.cfg.Store(&cfg)
}

// SetClientAddr sets how a request's client address is found (default RemoteAddr, the peer
// of the connection); behind a reverse proxy, one that trusts only that proxy's header, or
// every visitor shares the proxy's limits.
func (a *Adapter) SetClientAddr(f func(*http.Request) netip.Addr) { a.client.Store(&f) }

func (a *Adapter) clientAddr(r *http.Request) string {
	if f := a.client.Load(); f != nil {
		return addrKey((*f)(r))
	}
	return addrKey(RemoteAddr(r))
}

// refuse counts and logs (once a minute per address and reason) a refusal.
func (a *Adapter) refuse(reason, source string) {
	a.svc.Refused("webchat", reason)
	a.rlog.Warn(reason+"|"+source, "web chat refused", "reason", reason, "source", source)
}

// Disconnect closes every open widget socket (the adapter was turned off); widgets that come
// back find the chat gone.
func (a *Adapter) Disconnect() {
	a.mu.Lock()
	var cs []*websocket.Conn
	for _, m := range a.conns {
		for c := range m {
			cs = append(cs, c)
		}
	}
	a.mu.Unlock()
	for _, c := range cs {
		c.Close(websocket.StatusGoingAway, "web chat turned off")
	}
}

// Name implements channels.Adapter.
func (a *Adapter) Name() string { return "webchat" }

// Routes mounts /widget.js, /chat/ws and /chat/ (a page embedding the widget).
func (a *Adapter) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /widget.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(widgetJS)
	})
	mux.HandleFunc("GET /chat/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(demoHTML)
	})
	mux.HandleFunc("GET /chat/ws", a.serveWS)
}

type frame struct {
	T       string    `json:"t"`
	Visitor string    `json:"visitor,omitempty"`
	Token   string    `json:"token,omitempty"`
	Conv    string    `json:"conv,omitempty"`
	Since   uint64    `json:"since,omitempty"`
	Seq     uint64    `json:"seq,omitempty"`
	CID     string    `json:"cid,omitempty"`
	Text    string    `json:"text,omitempty"`
	Dir     string    `json:"dir,omitempty"`
	Name    string    `json:"name,omitempty"`
	Email   string    `json:"email,omitempty"`
	Phone   string    `json:"phone,omitempty"`
	Time    time.Time `json:"time,omitzero"`
	Error   string    `json:"error,omitempty"`
}

func (a *Adapter) token(visitor string) string {
	mac := hmac.New(sha256.New, a.key)
	mac.Write([]byte(visitor))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (a *Adapter) serveWS(w http.ResponseWriter, r *http.Request) {
	cfg := a.cfg.Load()
	lim, src := cfg.Limits, a.clientAddr(r)
	release, ok := a.limits.open(src, lim)
	if !ok {
		a.refuse("connections", src)
		w.Header().Set("Retry-After", "30")
		http.Error(w, "too many chat connections from your address", http.StatusTooManyRequests)
		return
	}
	defer release()
	opts := &websocket.AcceptOptions{OriginPatterns: cfg.Origins}
	if len(cfg.Origins) == 0 {
		// No cookie or ambient credential rides on this socket (the visitor token is in the
		// hello), so any site may embed the widget unless origins are configured.
		opts.InsecureSkipVerify = true
	}
	c, err := websocket.Accept(w, r, opts)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(64 << 10)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	var hello frame
	closed := make(chan struct{})
	late := time.AfterFunc(lim.HelloTimeout, func() {
		defer close(closed)
		a.refuse("hello_timeout", src)
		c.Close(websocket.StatusPolicyViolation, "no hello in time")
	})
	err = wsjson.Read(ctx, c, &hello)
	if !late.Stop() {
		<-closed // the timer closed the socket: its goroutine ends before the handler
		return
	}
	if err != nil || hello.T != "hello" {
		c.Close(websocket.StatusPolicyViolation, "hello expected")
		return
	}
	// A hello is a frame too (it replays the history): reconnecting in a loop is bounded
	// like messages are (invariant 2).
	if !a.limits.message(src, lim) {
		a.refuse("messages", src)
		c.Close(websocket.StatusTryAgainLater, "too many messages")
		return
	}
	pinging := make(chan struct{})
	go func() { defer close(pinging); a.keepAlive(ctx, c, lim, src) }()
	defer func() { cancel(); <-pinging }()

	visitor := hello.Visitor
	if visitor == "" || !hmac.Equal([]byte(hello.Token), []byte(a.token(visitor))) {
		visitor = "v-" + strings.ToLower(rand.Text()[:20])
	}
	claims := claimsOf(hello)
	a.add(visitor, c)
	defer a.remove(visitor, c)

	conv, _, err := a.svc.Store().OpenConversation("webchat", visitor)
	if err != nil {
		c.Close(websocket.StatusInternalError, "store")
		return
	}
	if err := wsjson.Write(ctx, c, frame{T: "welcome", Visitor: visitor, Token: a.token(visitor), Conv: conv}); err != nil {
		return
	}
	if conv != "" {
		since := uint64(0)
		if hello.Conv == conv {
			since = hello.Since
		}
		_, ms, err := a.svc.Conversation(conv, since)
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.Dir == store.System {
				continue // internal notes (transfer, wrap-up code) are not for the customer
			}
			if err := wsjson.Write(ctx, c, toFrame(m)); err != nil {
				return
			}
		}
	}
	refused := 0
	for {
		var f frame
		if err := wsjson.Read(ctx, c, &f); err != nil {
			if websocket.CloseStatus(err) == -1 && !errors.Is(err, context.Canceled) {
				a.log.Debug("read", "visitor", visitor, "error", err)
			}
			return
		}
		// Every frame takes a token, valid or not: a flood of frames is bounded before it
		// reaches the store (invariant 2).
		if !a.limits.message(src, lim) {
			a.refuse("messages", src)
			if refused++; refused > lim.MessagesBurst {
				c.Close(websocket.StatusPolicyViolation, "too many messages")
				return
			}
			wsjson.Write(ctx, c, frame{T: "error", CID: f.CID, Error: "too many messages: slow down and send it again"})
			continue
		}
		refused = 0
		if f.T == "callme" {
			if !a.callMe(ctx, c, visitor, src, f.CID) {
				return
			}
			continue
		}
		if f.T != "msg" || f.CID == "" || strings.TrimSpace(f.Text) == "" {
			wsjson.Write(ctx, c, frame{T: "error", CID: f.CID, Error: "msg needs cid and text"})
			continue
		}
		if open, _, err := a.svc.Store().OpenConversation("webchat", visitor); err == nil && open == "" && !a.limits.conversation(src, lim) {
			a.refuse("conversations", src)
			wsjson.Write(ctx, c, frame{T: "error", CID: f.CID, Error: "too many new chats from your address: try again in a minute"})
			continue
		}
		rc, err := a.svc.Receive(ctx, channels.Inbound{Adapter: "webchat", ProviderID: visitor + ":" + f.CID, From: visitor,
			Claims: claims, Text: f.Text})
		if err != nil {
			a.log.Error("store inbound", "visitor", visitor, "error", err)
			wsjson.Write(ctx, c, frame{T: "error", CID: f.CID, Error: "not stored, retry"})
			continue // no ack: the widget sends it again
		}
		if err := wsjson.Write(ctx, c, frame{T: "ack", CID: f.CID, Conv: rc.Conv, Seq: rc.Seq}); err != nil {
			return
		}
	}
}

// callMe answers the widget's "call me" button: the visitor's queued conversation is called
// back on the customer's verified number (channels.Service.CallMe; the frame carries no
// number, and nothing typed is used). A refusal is told to the visitor, counted and logged.
// false: the socket failed.
func (a *Adapter) callMe(ctx context.Context, c *websocket.Conn, visitor, src, cid string) bool {
	_, err := a.svc.CallMe(ctx, "webchat", visitor)
	if err == nil {
		return wsjson.Write(ctx, c, frame{T: "callme", CID: cid}) == nil
	}
	msg := "we cannot call you back on a number we have not verified"
	if errors.Is(err, channels.ErrNotQueued) {
		a.refuse("callme_not_queued", src)
		msg = "a call can be asked for while you wait for an agent"
	} else {
		a.refuse("callme_refused", src)
	}
	return wsjson.Write(ctx, c, frame{T: "error", CID: cid, Error: msg}) == nil
}

// keepAlive pings c every lim.PingInterval until ctx ends, and closes it when a pong does not
// come within lim.PongTimeout (invariant 3).
func (a *Adapter) keepAlive(ctx context.Context, c *websocket.Conn, lim channels.WebChatLimits, src string) {
	t := time.NewTicker(lim.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, lim.PongTimeout)
		err := c.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				a.refuse("pong_timeout", src)
				c.CloseNow()
			}
			return
		}
	}
}

// claimsOf is what the visitor typed about themselves in the hello (email, phone, name), as
// claims (channels invariant 7): bounded, cleaned of control characters, never a key.
func claimsOf(hello frame) []store.Identity {
	var out []store.Identity
	if e := channels.EmailAddr(clean(hello.Email)); strings.Contains(e, "@") {
		out = append(out, store.Identity{Kind: store.ClaimPrefix + "email", Value: e})
	}
	if p := channels.Phone(clean(hello.Phone)); p != "" {
		out = append(out, store.Identity{Kind: store.ClaimPrefix + "phone", Value: p})
	}
	if n := clean(hello.Name); n != "" {
		out = append(out, store.Identity{Kind: store.ClaimPrefix + "name", Value: n})
	}
	return out
}

// clean trims s, drops control characters and keeps at most 200 bytes of it.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "")
	}
	return s
}

func toFrame(m store.Message) frame {
	f := frame{T: "msg", Conv: m.Conv, Seq: m.Seq, Dir: m.Dir, Text: m.Text, Time: m.Time}
	if m.ClientID != "" {
		_, f.CID, _ = strings.Cut(m.ClientID, ":")
	}
	return f
}

func (a *Adapter) add(visitor string, c *websocket.Conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conns[visitor] == nil {
		a.conns[visitor] = map[*websocket.Conn]struct{}{}
	}
	a.conns[visitor][c] = struct{}{}
}

func (a *Adapter) remove(visitor string, c *websocket.Conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.conns[visitor], c)
	if len(a.conns[visitor]) == 0 {
		delete(a.conns, visitor)
	}
}

// Send pushes m to every open widget of the visitor. A visitor who is not connected gets it
// from the history on the next hello, so Send succeeds either way: the message is stored.
func (a *Adapter) Send(ctx context.Context, conv store.Conversation, m store.Message) (string, error) {
	a.mu.Lock()
	var cs []*websocket.Conn
	for c := range a.conns[conv.Address] {
		cs = append(cs, c)
	}
	a.mu.Unlock()
	for _, c := range cs {
		if err := wsjson.Write(ctx, c, toFrame(m)); err != nil {
			a.log.Debug("push failed; the visitor gets it on reconnect", "visitor", conv.Address, "err", err)
		}
	}
	return "", nil
}
