package webphone

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/sip/sipgo"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// connectTimeout bounds the browser's ICE and DTLS handshake after it answered or dialled.
const connectTimeout = 10 * time.Second

// call is the line's one call: a SIP dialog with ccswitch and the browser's Leg.
type call struct {
	id  string // the SIP Call-ID
	l   *Line
	leg *Leg // set once the browser answered or dialled

	srvDlg *sipgo.DialogServerSession // a call from ccswitch (the agent is rung)
	cliDlg *sipgo.DialogClientSession // a click-to-dial call

	session uint64
	version atomic.Uint64

	answer     chan string   // the browser's offer when it answers
	reject     chan struct{} // the agent declined
	rejectOnce sync.Once
	hang       chan struct{} // the agent (or the line's end) hangs up
	hangOnce   sync.Once
	bye        chan struct{} // ccswitch sent BYE
	byeOnce    sync.Once
	ended      chan struct{}
}

func (l *Line) newCall(id string) (*call, bool) {
	c := &call{id: id, l: l, session: rand.Uint64() >> 2, answer: make(chan string, 1), reject: make(chan struct{}),
		hang: make(chan struct{}), bye: make(chan struct{}), ended: make(chan struct{})}
	c.version.Store(1)
	l.mu.Lock()
	if l.closed || l.call != nil || l.user == "" {
		l.mu.Unlock()
		return nil, false
	}
	l.call = c
	l.mu.Unlock()
	l.g.addCall(c)
	return c, true
}

func (c *call) hangup()    { c.hangOnce.Do(func() { close(c.hang) }) }
func (c *call) remoteBye() { c.byeOnce.Do(func() { close(c.bye) }) }

// end tells the desktop, closes the leg and frees the line.
func (c *call) end(reason string) {
	if c.leg != nil {
		c.leg.Close()
	}
	c.l.g.dropCall(c)
	c.l.mu.Lock()
	if c.l.call == c {
		c.l.call = nil
	}
	c.l.mu.Unlock()
	c.l.send(Message{Type: "phone.ended", Call: c.id, Reason: reason})
	c.l.g.log.Info("browser phone call ended", "agent", c.l.agent, "call_id", c.id, "reason", reason)
	close(c.ended)
}

func respond(req *gsip.Request, tx gsip.ServerTransaction, code int, reason string) {
	tx.Respond(gsip.NewResponseFromRequest(req, code, reason, nil))
}

func (g *Gateway) onInvite(req *gsip.Request, tx gsip.ServerTransaction) {
	if tag, _ := req.To().Params.Get("tag"); tag != "" {
		g.reinvite(req, tx)
		return
	}
	l := g.lineOf(req.Recipient.User)
	if l == nil {
		g.refused(req, "unknown")
		respond(req, tx, 404, "Not Found")
		return
	}
	sm, err := parseSIPSDP(req.Body())
	if err != nil {
		g.refused(req, "sdp")
		respond(req, tx, 488, "Not Acceptable Here")
		return
	}
	c, ok := l.newCall(req.CallID().Value())
	if !ok {
		g.refused(req, "busy")
		respond(req, tx, 486, "Busy Here")
		return
	}
	dlg, err := g.dua.ReadInvite(req, tx)
	if err != nil {
		respond(req, tx, 400, "Bad Request")
		c.end("failed")
		return
	}
	c.srvDlg = dlg
	c.ring(req, sm)
}

// ring rings the browser and answers ccswitch once the browser's media is up. It returns
// after the final answer (and the ACK of a 200); the answered call goes on in its own goroutine.
func (c *call) ring(req *gsip.Request, sm sipMedia) {
	g, dlg := c.l.g, c.srvDlg
	dlg.Respond(180, "Ringing", nil)
	from := req.From()
	c.l.send(Message{Type: "phone.ring", Call: c.id, From: from.Address.User, Name: from.DisplayName})
	refuse := func(code int, reason, why string) {
		dlg.Respond(code, reason, nil)
		c.end(why)
	}
	var offer string
	select {
	case offer = <-c.answer:
	case <-c.reject:
		refuse(603, "Decline", "rejected")
		return
	case <-c.hang:
		refuse(480, "Temporarily Unavailable", "hangup")
		return
	case <-dlg.Context().Done(): // CANCEL: RONA or the caller left
		c.end("cancelled")
		return
	}
	leg, err := g.newLeg(sm.laws[0])
	if err != nil {
		g.m.failures.WithLabelValues("media").Inc()
		refuse(503, "Service Unavailable", "media")
		return
	}
	c.leg = leg
	leg.SetPeer(netip.AddrPortFrom(g.rtpIP, uint16(sm.port)), sm.dtmfPT)
	answer, err := leg.Answer(offer)
	if err != nil {
		g.m.failures.WithLabelValues("media").Inc()
		g.log.Warn("browser offer refused", "agent", c.l.agent, "call_id", c.id, "error", err)
		refuse(488, "Not Acceptable Here", "media")
		return
	}
	c.l.send(Message{Type: "phone.sdp", Call: c.id, SDP: answer})
	t := time.NewTimer(connectTimeout)
	defer t.Stop()
	select {
	case <-leg.Connected():
	case <-leg.Failed():
		refuse(480, "Temporarily Unavailable", "media")
		return
	case <-t.C:
		g.m.failures.WithLabelValues("media").Inc()
		refuse(480, "Temporarily Unavailable", "media")
		return
	case <-c.hang:
		refuse(480, "Temporarily Unavailable", "hangup")
		return
	case <-dlg.Context().Done():
		c.end("cancelled")
		return
	}
	body := sipSDP(leg.LocalRTP(), c.session, c.version.Load(), leg.Law(), sm.dtmfPT, answerDir(sm.dir))
	// Respond(200) returns once the ACK came (or never came: the call is over); the handler
	// must not return before the final answer (sipgo ends the transaction then).
	if err := dlg.Respond(200, "OK", body, gsip.NewHeader("Content-Type", "application/sdp")); err != nil {
		c.end("no-ack")
		return
	}
	c.l.send(Message{Type: "phone.connected", Call: c.id})
	go c.talk(func(ctx context.Context) error { return dlg.Bye(ctx) }, dlg.Context())
}

// talk waits for the end of an answered call: the agent hangs up (BYE), ccswitch sends BYE,
// or the browser's media fails (BYE).
func (c *call) talk(bye func(context.Context) error, dctx context.Context) {
	reason := "remote"
	select {
	case <-c.bye:
	case <-dctx.Done():
	case <-c.hang:
		reason = "hangup"
	case <-c.leg.Failed():
		reason = "media"
	}
	if reason != "remote" {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		if err := bye(ctx); err != nil {
			c.l.g.log.Debug("BYE to ccswitch failed", "call_id", c.id, "error", err)
		}
		cancel()
	}
	c.end(reason)
}

func (g *Gateway) onAck(req *gsip.Request, tx gsip.ServerTransaction) {
	if c := g.callOf(req.CallID().Value()); c != nil && c.srvDlg != nil {
		c.srvDlg.ReadAck(req, tx)
	}
}

func (g *Gateway) onBye(req *gsip.Request, tx gsip.ServerTransaction) {
	c := g.callOf(req.CallID().Value())
	if c == nil {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	var err error
	switch {
	case c.srvDlg != nil:
		err = c.srvDlg.ReadBye(req, tx)
	case c.cliDlg != nil:
		err = c.cliDlg.ReadBye(req, tx)
	default:
		err = errors.New("no dialog")
	}
	if err != nil {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.remoteBye()
}

// reinvite answers ccswitch's re-INVITE of a call (hold from the caller's side, a new
// address): the leg follows the new SDP; our answer keeps our socket and law.
func (g *Gateway) reinvite(req *gsip.Request, tx gsip.ServerTransaction) {
	c := g.callOf(req.CallID().Value())
	if c == nil || c.leg == nil {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	sm, err := parseSIPSDP(req.Body())
	if err != nil {
		respond(req, tx, 488, "Not Acceptable Here")
		return
	}
	c.leg.SetPeer(netip.AddrPortFrom(g.rtpIP, uint16(sm.port)), sm.dtmfPT)
	body := sipSDP(c.leg.LocalRTP(), c.session, c.version.Add(1), c.leg.Law(), sm.dtmfPT, answerDir(sm.dir))
	res := gsip.NewResponseFromRequest(req, 200, "OK", body)
	res.AppendHeader(gsip.NewHeader("Content-Type", "application/sdp"))
	res.AppendHeader(g.contact(c.l.currentUser()))
	tx.Respond(res)
}

func (l *Line) currentUser() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.user
}

// dtmfOffered is the telephone-event type of our click-to-dial offers.
const dtmfOffered = 101

// dial places a click-to-dial call: an INVITE from the agent's extension to ccswitch, which
// decides with the dialled-call path (outbound permission, limits, routes).
func (l *Line) dial(number, offer string) {
	g := l.g
	id := newToken()
	if l.currentUser() == "" {
		l.send(Message{Type: "phone.ended", Reason: "not-registered"})
		return
	}
	c, ok := l.newCall(id)
	if !ok {
		g.m.failures.WithLabelValues("busy").Inc()
		l.send(Message{Type: "phone.ended", Reason: "busy"})
		return
	}
	if number == "" || len(number) > 64 {
		c.end("bad-number")
		return
	}
	l.send(Message{Type: "phone.dialing", Call: id, Number: number})
	target, err := l.sipTarget()
	if err != nil {
		c.end("failed")
		return
	}
	leg, err := g.newLeg(PCMU)
	if err != nil {
		g.m.failures.WithLabelValues("media").Inc()
		c.end("media")
		return
	}
	c.leg = leg
	answer, err := leg.Answer(offer)
	if err != nil {
		g.m.failures.WithLabelValues("media").Inc()
		c.end("media")
		return
	}
	l.send(Message{Type: "phone.sdp", Call: id, SDP: answer})

	l.mu.Lock()
	ext, secret, user := l.ext, l.secret, l.user
	l.mu.Unlock()
	host := target.Addr().Unmap().String()
	ruri := gsip.Uri{Scheme: "sip", User: number, Host: host, Port: int(target.Port())}
	req := gsip.NewRequest(gsip.INVITE, ruri)
	from := &gsip.FromHeader{Address: gsip.Uri{Scheme: "sip", User: ext, Host: host}, Params: gsip.NewParams()}
	from.Params.Add("tag", newToken())
	req.AppendHeader(from)
	req.AppendHeader(&gsip.ToHeader{Address: gsip.Uri{Scheme: "sip", User: number, Host: host}})
	cid := gsip.CallIDHeader(id)
	req.AppendHeader(&cid)
	req.AppendHeader(g.contact(user))
	req.AppendHeader(gsip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(sipSDP(leg.LocalRTP(), c.session, 1, PCMU, dtmfOffered, "sendrecv"))
	req.SetDestination(target.String())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.hang:
			cancel() // CANCEL while ringing
		case <-ctx.Done():
		}
	}()
	dlg, err := g.dua.WriteInvite(ctx, req)
	if err != nil {
		g.m.failures.WithLabelValues("dial").Inc()
		c.end("failed")
		return
	}
	c.cliDlg = dlg
	err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{Username: ext, Password: secret, OnResponse: func(res *gsip.Response) error {
		if res.StatusCode == 180 || res.StatusCode == 183 {
			l.send(Message{Type: "phone.progress", Call: id})
		}
		return nil
	}})
	if err != nil {
		reason := "failed"
		if res := dlg.InviteResponse; res != nil && res.StatusCode >= 300 {
			reason = res.Reason
			if res.StatusCode == 403 {
				reason = "forbidden"
			}
		}
		select {
		case <-c.hang:
			reason = "hangup"
		default:
			g.m.failures.WithLabelValues("dial").Inc()
		}
		c.end(reason)
		return
	}
	if err := dlg.Ack(context.Background()); err != nil {
		g.log.Debug("ACK to ccswitch failed", "call_id", id, "error", err)
	}
	if sm, err := parseSIPSDP(dlg.InviteResponse.Body()); err == nil {
		dtmf := -1
		if sm.dtmfPT == dtmfOffered {
			dtmf = dtmfOffered
		}
		leg.SetPeer(netip.AddrPortFrom(g.rtpIP, uint16(sm.port)), dtmf)
	}
	l.send(Message{Type: "phone.connected", Call: id})
	c.talk(func(ctx context.Context) error { return dlg.Bye(ctx) }, dlg.Context())
}
