package voice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/sip/anchor"
	"github.com/ccswitch/ccswitch/store"
)

// errGone is returned inside the package when the caller's leg ended.
var errGone = fmt.Errorf("voice: caller gone: %w", ivr.ErrHungUp)

// call is one caller handled by the App: the ivr.Interaction of its flow, and the owner of
// the goroutines working for it (invariant 4).
type call struct {
	a      *App
	st     *state
	id     string // ccswitch call ID of leg A = first ACD task ID
	caller string
	did    string
	lang   string
	log    *slog.Logger // with the call's call_id

	wg     sync.WaitGroup // the call's goroutines
	mc     *media.Call
	legA   *sip.Leg
	gone   <-chan struct{} // leg A ended
	digits *digitBuffer
	inbox  *center.Inbox // the events of the call's ACD tasks

	agent     string                  // the agent who answered
	agentLeg  atomic.Pointer[sip.Leg] // bridged leg B
	rtpDead   chan struct{}           // closed by media's RTP timeout
	deadOnce  sync.Once
	hungUp    bool
	taskAlive bool     // enqueued and not yet ended by Cancel/Complete
	task      string   // the ACD task of the current (last) wait in a queue
	tasks     []string // every ACD task of the call, in order
	bridgedAt time.Time

	monMu      sync.Mutex // guards the supervisors' sessions below; taken before media's locks
	sessions   []*monitorSession
	monitoring []store.MonitorRecord // finished stretches, for the record
	monClosed  bool                  // the call is ending: nobody joins any more
}

// goes runs f on a goroutine the call owns: ServeCall returns only after it ended.
func (c *call) goes(f func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
}

// ServeCall answers a flow number's caller with media and runs the number's flow, or takes
// an agent's feature code.
func (a *App) ServeCall(ctx context.Context, in *sip.Incoming) {
	a.calls.Add(1)
	defer a.calls.Done()
	st := a.state.Load()
	d := in.Dialled()
	if d.Kind == sip.DialledFeature {
		a.feature(ctx, in, st, d.Code)
		return
	}
	num := d.Number
	c := &call{a: a, st: st, id: in.CallID(), caller: in.Caller(), did: num.DID, lang: num.Language,
		digits: newDigitBuffer(), inbox: center.NewInbox(), rtpDead: make(chan struct{})}
	c.log = a.log.With("call_id", c.id)
	a.byCall.Store(c.id, c)
	defer a.byCall.Delete(c.id)
	sum := Summary{CallID: c.id, DID: num.DID, Caller: c.caller}
	sum.Result, sum.Err = c.serve(ctx, in, num.Flow)
	if c.agent != "" {
		a.setLive(c.agent, c, false)
	}
	// Invariant 4: the call's goroutines, then its legs, end before its account is given;
	// so do the supervisors' sessions on it.
	monitoring := c.endMonitoring()
	c.wg.Wait()
	if c.legA != nil {
		<-c.gone
	}
	if l := c.agentLeg.Load(); l != nil {
		<-l.Done()
	}
	sum.Agent = c.agent
	if c.mc != nil {
		sum.Media = c.mc.Stats()
		c.mc.Close()
	}
	fr := center.FlowRecord{Call: c.id, Flow: num.Flow, Outcome: ivr.OutcomeFailed.String(), Tasks: c.tasks,
		CallerMedia: legMedia(sum.Media.A), AgentMedia: legMedia(sum.Media.B), Monitoring: monitoring}
	if l := c.agentLeg.Load(); l != nil {
		fr.AgentCall = l.CallID()
	}
	if r := sum.Result; r != nil {
		fr.Outcome, fr.Vars = r.Outcome.String(), r.Vars
		if len(r.Recordings) > 0 {
			fr.Recording = r.Recordings[len(r.Recordings)-1]
		}
	}
	a.center.FlowEnded(fr)
	if a.onEnd != nil {
		a.onEnd(sum)
	}
}

// legMedia is a media leg's figures as the call record keeps them.
func legMedia(s media.LegStats) center.LegMedia {
	return center.LegMedia{Packets: s.PacketsIn, Lost: s.Lost, JitterMs: float64(s.Jitter.Microseconds()) / 1000}
}

// serve answers the caller and runs the flow; it returns once the call is over for the flow
// (a bridged call: when either side hung up).
func (c *call) serve(ctx context.Context, in *sip.Incoming, flow string) (*ivr.Result, error) {
	a := c.a
	flows := a.center.Flows()
	if flows == nil || a.media == nil {
		in.Reject(480, "Temporarily Unavailable")
		return nil, errors.New("voice: no flows or no media")
	}
	offer := in.Offer()
	if len(offer) == 0 {
		// A delayed offer would need the answer from the ACK, which sip.Incoming does not give.
		in.Reject(488, "Not Acceptable Here")
		return nil, errors.New("voice: INVITE without an offer")
	}
	var err error
	c.mc, err = a.media.NewCall(media.CallOptions{ID: "voice-" + c.did, OnTimeout: func(_ *media.Call, l media.Leg) {
		c.log.Info("RTP timeout: hanging up", "leg", l.String())
		c.deadOnce.Do(func() { close(c.rtpDead) })
	}})
	if err != nil {
		in.Reject(503, "Service Unavailable")
		return nil, err
	}
	c.mc.SetPeer(media.LegA, a.peerOf(in.Party())) // RTP sources and SRTP policy of the caller
	answer, err := c.mc.AnswerLocal(media.LegA, offer)
	if err != nil {
		code := anchor.Status(err)
		if code == 491 || code == 500 {
			code = 488
		}
		in.Reject(code, "Not Acceptable Here")
		return nil, err
	}
	leg, err := in.Answer(answer)
	if err != nil {
		c.log.Info("caller did not ACK our answer", "error", err)
		return nil, err
	}
	c.legA, c.gone = leg, leg.Done()
	// INFO DTMF and re-INVITEs of the caller before the bridge.
	leg.OnInDialog(c.inDialog)
	defer leg.OnInDialog(nil)
	defer func() {
		if a.anc != nil {
			a.anc.Release(c.id)
			if l := c.agentLeg.Load(); l != nil {
				a.anc.Release(l.CallID())
			}
		}
	}()

	// runCtx ends the flow when the caller leaves; every goroutine of the call ends with it.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.goes(func() { c.pumpDTMF(runCtx) })
	c.goes(func() {
		select {
		case <-c.gone:
			cancel()
		case <-c.rtpDead:
			c.hangupAll() // BYE on both legs when RTP stops
		case <-runCtx.Done():
		}
	})

	vars := map[string]string{"caller": c.caller, "did": c.did}
	res, err := flows.Run(runCtx, ivr.Contact{DID: c.did, Language: c.lang, Vars: vars}, c)
	if err != nil {
		c.log.Warn("flow failed", "did", c.did, "flow", flow, "error", err)
	}
	if agentLeg := c.agentLeg.Load(); agentLeg != nil {
		// Bridged (agent or transfer): wait for either side's BYE (sip ends the peer), or the
		// server stopping; the media call lives until then.
	wait:
		for {
			select {
			case <-c.gone:
			case <-agentLeg.Done():
				if next := c.agentLeg.Load(); next != agentLeg {
					// The agent transferred the caller (REFER from its phone): follow the new
					// leg; the agent is done with the task.
					agentLeg = next
					if c.taskAlive {
						c.command("complete", func(ctx context.Context) error { return a.center.Complete(ctx, c.task) })
						c.taskAlive = false
					}
					continue wait
				}
			case <-ctx.Done():
				c.hangupAll()
			}
			break
		}
	}
	if c.taskAlive {
		if c.agent != "" {
			c.command("complete", func(ctx context.Context) error { return a.center.Complete(ctx, c.task) })
		} else {
			c.command("cancel", func(ctx context.Context) error { return a.center.Cancel(ctx, c.task) })
		}
		c.taskAlive = false
	}
	if !c.hungUp {
		select {
		case <-c.gone:
		default:
			if res == nil || res.Outcome != ivr.OutcomeTransferred {
				c.hangupAll()
			}
		}
	}
	return res, err
}

// command submits a command the call needs done whatever happens to the caller (the engine's
// backpressure may delay it, nothing else); a failure is logged.
func (c *call) command(what string, f func(ctx context.Context) error) error {
	err := f(cmdCtx(context.Background()))
	if err != nil {
		c.log.Warn("ACD command failed", "command", what, "task", c.task, "error", err)
	}
	return err
}

// hangupAll sends BYE on leg A (sip ends a bridged leg B too).
func (c *call) hangupAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if c.legA != nil {
		c.legA.Hangup(ctx)
	}
	if l := c.agentLeg.Load(); l != nil {
		l.Hangup(ctx)
	}
}

// pumpDTMF moves the call's digits (RFC 4733, INFO injected, in-band) into the buffer.
func (c *call) pumpDTMF(ctx context.Context) {
	for {
		select {
		case ev := <-c.mc.DTMF():
			if ev.Leg == media.LegA {
				c.digits.push(ev.Digit)
			}
		case <-ctx.Done():
			return
		}
	}
}

// ended maps the end of the caller's leg (or ctx) to the ivr's error.
func (c *call) ended(ctx context.Context) error {
	select {
	case <-c.gone:
		return errGone
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil
}

// Channel is ivr.ChannelVoice.
func (c *call) Channel() string { return ivr.ChannelVoice }

// Play plays the prompt <language>/<name>.wav to the caller. With BargeIn, a digit already
// typed or typed during the prompt stops it and is returned (and taken from the buffer);
// without, the digits typed during the prompt are discarded.
func (c *call) Play(ctx context.Context, p ivr.Prompt) (string, error) {
	if err := c.ended(ctx); err != nil {
		return "", err
	}
	pr, err := c.st.prompts.load(p.Name, p.Language, c.lang)
	if err != nil {
		return "", err
	}
	pctx, cancel := c.untilGone(ctx)
	defer cancel()
	if !p.BargeIn {
		_, err := c.mc.Play(pctx, media.LegA, pr, media.PlayOptions{})
		c.digits.clear()
		return "", c.playErr(ctx, err)
	}
	if d, ok, _ := c.digits.pop(); ok {
		return string(d), nil // typed ahead: the caller already answers
	}
	done := make(chan error, 1)
	c.goes(func() {
		_, err := c.mc.Play(pctx, media.LegA, pr, media.PlayOptions{})
		done <- err
	})
	select {
	case err = <-done:
		return "", c.playErr(ctx, err)
	case <-c.digits.wait():
		cancel()
		<-done
		if d, ok, _ := c.digits.pop(); ok {
			return string(d), nil
		}
		return "", nil
	}
}

// untilGone returns a context that ends with ctx, with cancel, or when the caller hangs up.
func (c *call) untilGone(ctx context.Context) (context.Context, context.CancelFunc) {
	cctx, cancel := context.WithCancel(ctx)
	c.goes(func() {
		select {
		case <-c.gone:
			cancel()
		case <-cctx.Done():
		}
	})
	return cctx, cancel
}

func (c *call) playErr(ctx context.Context, err error) error {
	if e := c.ended(ctx); e != nil {
		return e
	}
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	if errors.Is(err, media.ErrClosed) {
		return errGone
	}
	return err
}

// Collect reads digits from the call's buffer (digits typed earlier included).
func (c *call) Collect(ctx context.Context, o ivr.CollectOptions) (string, error) {
	if err := c.ended(ctx); err != nil {
		return "", err
	}
	return c.digits.collect(ctx, c.gone, o.MaxDigits, o.Terminator, o.Timeout)
}

// Transfer rings an extension and bridges the caller to it (blind transfer through the
// B2BUA); external numbers are not supported yet.
func (c *call) Transfer(ctx context.Context, target string) error {
	srv := c.a.srv.Load()
	if srv == nil {
		return errors.New("voice: transfer: no SIP server")
	}
	c.mc.CancelOffer()
	c.mc.SetPeer(media.LegB, c.a.peerOf(sip.Party{User: target}))
	offer, err := c.mc.OfferTo(media.LegB, media.SendRecv)
	if err != nil {
		return err
	}
	leg, err := srv.Dial(ctx, sip.DialRequest{Extension: target, CallerID: c.caller, SDP: offer, Parent: c.id})
	if err != nil {
		c.mc.CancelOffer()
		if e := c.ended(ctx); e != nil {
			return e
		}
		return fmt.Errorf("voice: transfer to %s: %w", target, err)
	}
	return c.bridge(leg)
}

// bridge connects an answered leg B to the caller: media relay and SIP BYE coupling.
func (c *call) bridge(leg *sip.Leg) error {
	c.mc.SetPeer(media.LegB, c.a.peerOf(leg.Party()))
	if _, err := c.mc.AnswerFromB(leg.SDP()); err != nil {
		hangup(leg)
		return fmt.Errorf("voice: agent's answer: %w", err)
	}
	srv := c.a.srv.Load()
	if err := srv.Bridge(c.legA, leg); err != nil {
		hangup(leg)
		if e := c.ended(context.Background()); e != nil {
			return e
		}
		return err
	}
	c.agentLeg.Store(leg)
	leg.OnTransferred(c.transferred)
	if c.a.anc != nil {
		c.a.anc.Attach(c.id, c.mc)
		c.a.anc.Attach(leg.CallID(), c.mc)
	}
	return nil
}

// transferred follows a transfer made from the bridged leg's phone (REFER): the caller now
// talks to leg to, which the call waits for instead (sip joined it to the call's media).
func (c *call) transferred(to *sip.Leg) {
	to.OnTransferred(c.transferred)
	c.agentLeg.Store(to)
}

// Record keeps a voicemail: the call is recorded (media's two-channel WAV, the caller on the
// first channel) under media.recordings until MaxLength, # or the caller hanging up — a
// message left by hanging up is kept and returned without error. The reference is the file's
// path.
func (c *call) Record(ctx context.Context, o ivr.RecordOptions) (string, error) {
	if err := c.ended(ctx); err != nil {
		return "", err
	}
	if err := os.MkdirAll(c.st.recordings, 0o750); err != nil {
		return "", fmt.Errorf("voice: voicemail: %w", err)
	}
	path := filepath.Join(c.st.recordings, fmt.Sprintf("voicemail-%s-%s.wav", time.Now().UTC().Format("20060102T150405Z"), c.id))
	c.digits.clear() // a # typed before the beep does not end the message
	if err := c.mc.StartRecording(path); err != nil {
		return "", fmt.Errorf("voice: voicemail: %w", err)
	}
	max := o.MaxLength
	if max <= 0 {
		max = ivr.DefaultMaxLength
	}
	t := time.NewTimer(max)
	defer t.Stop()
	var err error
wait:
	for {
		select {
		case <-t.C:
			break wait
		case <-c.gone:
			break wait
		case <-ctx.Done():
			if c.ended(context.Background()) == nil {
				err = ctx.Err()
			}
			break wait
		case <-c.digits.wait():
			if d, ok, _ := c.digits.pop(); ok && d == '#' {
				break wait
			}
		}
	}
	if serr := c.mc.StopRecording(); serr != nil && err == nil {
		err = fmt.Errorf("voice: voicemail: %w", serr)
	}
	if err != nil {
		return "", err
	}
	return path, nil
}

// Hangup sends BYE to the caller.
func (c *call) Hangup(ctx context.Context) error {
	if err := c.ended(context.Background()); err != nil {
		return err
	}
	c.hungUp = true
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 8*time.Second)
	defer cancel()
	c.legA.Hangup(hctx)
	return nil
}
