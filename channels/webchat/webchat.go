// Package webchat is the embeddable web chat: /widget.js (one <script> tag on the customer's
// site), a WebSocket at /chat/ws and a demo page at /chat/.
//
// Protocol (JSON text frames; "t" is the type):
//
//	client → server  {"t":"hello","visitor","token","conv","since","name","email","phone"}
//	                 {"t":"msg","cid","text"}            cid: a client-generated message id
//	server → client  {"t":"welcome","visitor","token","conv"}
//	                 {"t":"ack","cid","conv","seq"}     the message is stored (durably)
//	                 {"t":"msg","conv","seq","dir","text","cid","time"}
//
// Reconnecting loses nothing: the widget keeps every message it sent until it is acked and
// sends it again after each hello (the server deduplicates on visitor+cid), and the hello
// carries the last seq it saw, from which the server sends the conversation's history again.
// The visitor id is issued by the server with an HMAC token (key from the store), so a
// visitor cannot read another's conversation by guessing ids.
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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/store"
)

//go:embed widget.js
var widgetJS []byte

//go:embed demo.html
var demoHTML []byte

// Adapter serves the widget and its WebSocket and pushes replies to connected visitors.
type Adapter struct {
	cfg atomic.Pointer[channels.WebChat] // replaced by Reconfigure
	svc *channels.Service
	key []byte
	log *slog.Logger

	mu    sync.Mutex
	conns map[string]map[*websocket.Conn]struct{} // by visitor
}

// New returns the adapter; key signs visitor tokens (store.Secret("webchat", 32)).
func New(cfg channels.WebChat, svc *channels.Service, key []byte, log *slog.Logger) *Adapter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Adapter{svc: svc, key: key, log: log.With("component", "channels.webchat"),
		conns: map[string]map[*websocket.Conn]struct{}{}}
	a.cfg.Store(&cfg)
	return a
}

// Reconfigure takes new settings (allowed origins) for sockets opened from now on; open
// widgets stay connected.
func (a *Adapter) Reconfigure(cfg channels.WebChat) { a.cfg.Store(&cfg) }

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
	origins := a.cfg.Load().Origins
	opts := &websocket.AcceptOptions{OriginPatterns: origins}
	if len(origins) == 0 {
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
	ctx := r.Context()

	var hello frame
	if err := wsjson.Read(ctx, c, &hello); err != nil || hello.T != "hello" {
		c.Close(websocket.StatusPolicyViolation, "hello expected")
		return
	}
	visitor := hello.Visitor
	if visitor == "" || !hmac.Equal([]byte(hello.Token), []byte(a.token(visitor))) {
		visitor = "v-" + strings.ToLower(rand.Text()[:20])
	}
	// What a visitor types about themselves is a claim, not a proof: it is kept (agents find
	// the customer by it and link by hand) but never links customers automatically, or anyone
	// could attach their chat to someone else's history by typing their email.
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
	for {
		var f frame
		if err := wsjson.Read(ctx, c, &f); err != nil {
			if websocket.CloseStatus(err) == -1 && !errors.Is(err, context.Canceled) {
				a.log.Debug("read", "visitor", visitor, "err", err)
			}
			return
		}
		if f.T != "msg" || f.CID == "" || strings.TrimSpace(f.Text) == "" {
			wsjson.Write(ctx, c, frame{T: "error", CID: f.CID, Error: "msg needs cid and text"})
			continue
		}
		rc, err := a.svc.Receive(ctx, channels.Inbound{Adapter: "webchat", ProviderID: visitor + ":" + f.CID, From: visitor,
			Claims: claims, Text: f.Text})
		if err != nil {
			a.log.Error("store inbound", "visitor", visitor, "err", err)
			wsjson.Write(ctx, c, frame{T: "error", CID: f.CID, Error: "not stored, retry"})
			continue // no ack: the widget sends it again
		}
		if err := wsjson.Write(ctx, c, frame{T: "ack", CID: f.CID, Conv: rc.Conv, Seq: rc.Seq}); err != nil {
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
