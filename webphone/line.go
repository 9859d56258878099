package webphone

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/sip/sipgo"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// Message is one frame of the desktop's WebSocket that concerns the phone; Type starts with
// "phone.". Desktop → ccswitch: phone.connect, phone.disconnect, phone.answer {call, sdp: the
// browser's offer}, phone.reject {call}, phone.hangup {call}, phone.hold {call, on},
// phone.dtmf {call, digit}, phone.dial {number, sdp: the browser's offer}. ccswitch → desktop:
// phone.config {device}, phone.state {state: registered | off | error, error}, phone.ring
// {call, from, name}, phone.dialing {call, number}, phone.progress {call}, phone.sdp {call,
// sdp: the answer}, phone.connected {call}, phone.ended {call, reason}.
type Message struct {
	Type   string `json:"type"`
	Call   string `json:"call,omitempty"`
	SDP    string `json:"sdp,omitempty"`
	Number string `json:"number,omitempty"`
	Digit  string `json:"digit,omitempty"`
	On     bool   `json:"on,omitempty"`
	From   string `json:"from,omitempty"`
	Name   string `json:"name,omitempty"`
	Device string `json:"device,omitempty"`
	State  string `json:"state,omitempty"`
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

// ContactPrefix starts the user part of every browser phone's contact: bindings with it that
// outlive the process (a crash) belong to no browser and may be removed at start.
const ContactPrefix = "wp-"

// registration lifetime asked for; refreshed at half of it.
const regExpires = 120

// Line is the phone of one desktop connection.
type Line struct {
	g     *Gateway
	agent string
	out   func([]byte) error

	mu       sync.Mutex // guards the fields below
	user     string     // our contact's user while registered
	ext      string
	secret   string
	regID    string // the REGISTERs' Call-ID
	cseq     uint32
	stopReg  context.CancelFunc
	regDone  chan struct{}
	call     *call
	closed   bool
	connects sync.Mutex // serialises connect and disconnect
}

// Line opens the phone of one desktop connection of agent: handle takes each "phone.*" frame
// the desktop sends (it does not block), send writes a frame to the desktop, closeLine ends
// the line's call and registration when the WebSocket closes (invariant 2).
func (g *Gateway) Line(agent string, send func([]byte) error) (handle func([]byte), closeLine func()) {
	l := &Line{g: g, agent: agent, out: send}
	device := "phone"
	for _, a := range g.cfg.Load().Agents {
		if a.ID == agent {
			device = a.Device
		}
	}
	l.send(Message{Type: "phone.config", Device: device})
	return l.handle, l.close
}

func (l *Line) send(m Message) {
	b, _ := json.Marshal(m)
	if err := l.out(b); err != nil {
		l.g.log.Debug("desktop did not take a phone frame", "agent", l.agent, "type", m.Type, "error", err)
	}
}

func (l *Line) handle(raw []byte) {
	var m Message
	if err := json.Unmarshal(raw, &m); err != nil {
		l.send(Message{Type: "phone.state", State: "error", Error: "bad frame"})
		return
	}
	switch m.Type {
	case "phone.connect":
		go l.connect()
	case "phone.disconnect":
		go l.disconnect()
	case "phone.dial":
		go l.dial(m.Number, m.SDP)
	case "phone.answer", "phone.reject", "phone.hangup", "phone.hold", "phone.dtmf":
		c := l.current(m.Call)
		if c == nil {
			if m.Call != "" {
				l.send(Message{Type: "phone.ended", Call: m.Call, Reason: "gone"})
			}
			return
		}
		switch m.Type {
		case "phone.answer":
			select {
			case c.answer <- m.SDP:
			default:
			}
		case "phone.reject":
			c.rejectOnce.Do(func() { close(c.reject) })
		case "phone.hangup":
			c.hangup()
		case "phone.hold":
			if c.leg != nil {
				c.leg.Hold(m.On)
			}
		case "phone.dtmf":
			if c.leg != nil && len(m.Digit) == 1 {
				go c.leg.SendDTMF(m.Digit[0])
			}
		}
	default:
		l.send(Message{Type: "phone.state", State: "error", Error: "unknown frame"})
	}
}

func (l *Line) current(id string) *call {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.call != nil && l.call.id == id {
		return l.call
	}
	return nil
}

// credentials are the agent's extension and its digest secret.
func (l *Line) credentials() (ext, secret string, err error) {
	cfg := l.g.cfg.Load()
	for _, a := range cfg.Agents {
		if a.ID != l.agent || a.Extension == "" {
			continue
		}
		for _, u := range cfg.Users {
			if u.Extension == a.Extension && u.Secret != "" {
				return u.Extension, u.Secret, nil
			}
		}
	}
	return "", "", ErrNoExtension
}

// connect registers the line (a no-op when registered).
func (l *Line) connect() {
	l.connects.Lock()
	defer l.connects.Unlock()
	l.mu.Lock()
	if l.closed || l.user != "" {
		l.mu.Unlock()
		if !l.closed {
			l.send(Message{Type: "phone.state", State: "registered"})
		}
		return
	}
	ext, secret, err := l.credentials()
	if err != nil {
		l.mu.Unlock()
		l.fail("register", err)
		return
	}
	l.ext, l.secret = ext, secret
	l.user = ContactPrefix + newToken()
	l.regID = newToken()
	user := l.user
	l.mu.Unlock()

	l.g.mu.Lock()
	closed := l.g.closed
	if !closed {
		l.g.lines[user] = l
	}
	l.g.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if closed {
		err = fmt.Errorf("webphone: shutting down")
	} else {
		err = l.register(ctx, regExpires)
	}
	cancel()
	if err != nil {
		l.forget()
		l.fail("register", err)
		return
	}
	l.g.m.lines.Inc()
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.mu.Lock()
	l.stopReg, l.regDone = stop, done
	l.mu.Unlock()
	go l.refresh(rctx, done)
	l.g.log.Info("browser phone registered", "agent", l.agent, "aor", ext)
	l.send(Message{Type: "phone.state", State: "registered"})
}

func (l *Line) fail(reason string, err error) {
	l.g.m.failures.WithLabelValues(reason).Inc()
	l.g.log.Warn("browser phone: "+reason+" failed", "agent", l.agent, "error", err)
	l.send(Message{Type: "phone.state", State: "error", Error: err.Error()})
}

// forget drops the line's contact from the gateway's table.
func (l *Line) forget() {
	l.mu.Lock()
	user := l.user
	l.user = ""
	l.mu.Unlock()
	l.g.mu.Lock()
	if l.g.lines[user] == l {
		delete(l.g.lines, user)
	}
	l.g.mu.Unlock()
}

func (l *Line) refresh(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(regExpires / 2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := l.register(rctx, regExpires); err != nil && ctx.Err() == nil {
				l.fail("register", err)
			}
			cancel()
		}
	}
}

// disconnect ends the call and removes the registration (invariant 2).
func (l *Line) disconnect() {
	l.connects.Lock()
	defer l.connects.Unlock()
	l.mu.Lock()
	c, stop, done, user := l.call, l.stopReg, l.regDone, l.user
	l.stopReg, l.regDone = nil, nil
	l.mu.Unlock()
	if c != nil {
		c.hangup()
		<-c.ended
	}
	if stop != nil {
		stop()
		<-done
	}
	if user != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := l.register(ctx, 0); err != nil {
			l.g.log.Debug("browser phone unregister failed", "agent", l.agent, "error", err)
		}
		cancel()
		l.forget()
		if stop != nil {
			l.g.m.lines.Dec()
		}
		l.g.log.Info("browser phone unregistered", "agent", l.agent)
	}
	l.send(Message{Type: "phone.state", State: "off"})
}

func (l *Line) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.disconnect()
}

// sipTarget is ccswitch's UDP SIP address as we reach it.
func (l *Line) sipTarget() (netip.AddrPort, error) {
	if l.g.sipAddr == nil {
		return netip.AddrPort{}, ErrNoSIP
	}
	ap, ok := l.g.sipAddr()
	if !ok {
		return netip.AddrPort{}, ErrNoSIP
	}
	if ap.Addr().IsUnspecified() {
		ap = netip.AddrPortFrom(l.g.self.Addr(), ap.Port())
	}
	return ap, nil
}

// register sends a REGISTER of our contact for the agent's extension (expires 0: remove),
// answering ccswitch's digest challenge with the extension's secret.
func (l *Line) register(ctx context.Context, expires int) error {
	target, err := l.sipTarget()
	if err != nil {
		return err
	}
	l.mu.Lock()
	ext, secret, user, callID := l.ext, l.secret, l.user, l.regID
	l.cseq++
	cseq := l.cseq
	l.mu.Unlock()
	host := target.Addr().Unmap().String()
	req := gsip.NewRequest(gsip.REGISTER, gsip.Uri{Scheme: "sip", Host: host, Port: int(target.Port())})
	from := &gsip.FromHeader{Address: gsip.Uri{Scheme: "sip", User: ext, Host: host}, Params: gsip.NewParams()}
	from.Params.Add("tag", newToken())
	req.AppendHeader(from)
	req.AppendHeader(&gsip.ToHeader{Address: gsip.Uri{Scheme: "sip", User: ext, Host: host}})
	req.AppendHeader(l.g.contact(user))
	cid := gsip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&gsip.CSeqHeader{SeqNo: cseq, MethodName: gsip.REGISTER})
	req.AppendHeader(gsip.NewHeader("Expires", strconv.Itoa(expires)))
	req.SetDestination(target.String())
	res, err := l.g.cli.Do(ctx, req)
	if err == nil && (res.StatusCode == 401 || res.StatusCode == 407) {
		res, err = l.g.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: ext, Password: secret})
		l.mu.Lock()
		if s := req.CSeq().SeqNo; s > l.cseq {
			l.cseq = s
		}
		l.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("webphone: register %s: %w", ext, err)
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("webphone: register %s: %d %s", ext, res.StatusCode, res.Reason)
	}
	return nil
}

// contact is the Contact of a line's registration and calls.
func (g *Gateway) contact(user string) *gsip.ContactHeader {
	return &gsip.ContactHeader{Address: gsip.Uri{Scheme: "sip", User: user, Host: g.self.Addr().Unmap().String(), Port: int(g.self.Port())}}
}
