package voice

import (
	"context"
	"errors"
	"time"

	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip"
)

// Feature codes an agent dials from their own phone.
const (
	// FeatureReady toggles between ready (available) and not ready; an agent not logged in
	// for voice is logged in, ready.
	FeatureReady = "*45"
	// FeatureLogout logs the agent out of voice; auto_login waits for the next FeatureReady.
	// (It was *46 before supervisors' monitoring took *46, *47 and *48, monitor.go.)
	FeatureLogout = "*44"
)

// feature handles a feature code dialled by an extension: only the agent whose phone it is
// may use it (the SIP layer gives the authenticated extension, never the From header). The
// caller hears a short confirmation — prompt "agent-ready", "agent-not-ready" or
// "agent-logged-out", else the digit 1 or 0 — and is hung up. The monitoring codes (*46, *47,
// *48 + extension) go to monitorByPhone.
func (a *App) feature(ctx context.Context, in *sip.Incoming, st *state, code string) {
	user := in.User()
	if mode, ext, ok := monitorCode(code); ok {
		a.monitorByPhone(ctx, in, mode, ext)
		return
	}
	if code != FeatureReady && code != FeatureLogout {
		in.Reject(404, "Not Found")
		return
	}
	agent, ok := a.center.AgentOfExtension(user)
	if !ok {
		in.Reject(403, "Not An Agent")
		return
	}
	name, fallback := "agent-logged-out", "digit-0"
	if code == FeatureLogout {
		if err := a.center.VoiceLogout(agent); err != nil {
			a.log.Warn("feature code failed", "agent", agent, "code", code, "error", err)
			in.Reject(500, "Server Internal Error")
			return
		}
		a.log.Info("agent logged out of voice by feature code", "agent", agent, "code", code)
	} else {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		pr, err := a.center.ToggleReady(tctx, agent, "feature code "+code)
		cancel()
		if err != nil {
			a.log.Warn("feature code failed", "agent", agent, "code", code, "error", err)
			in.Reject(500, "Server Internal Error")
			return
		}
		name = "agent-not-ready"
		if pr.Ready {
			name, fallback = "agent-ready", "digit-1"
		}
		a.log.Info("agent state by feature code", "agent", agent, "code", code, "ready", pr.Ready, "voice", pr.Voice)
	}
	p, err := st.prompts.load(name)
	if err != nil {
		p, err = st.prompts.load(fallback)
	}
	if err != nil || len(in.Offer()) == 0 || a.media == nil {
		in.Reject(480, "Temporarily Unavailable") // the change is made; no way to say so
		return
	}
	mc, answer, ok := a.localMedia(in, "feature-"+user)
	if !ok {
		return
	}
	defer mc.Close()
	leg, err := in.Answer(answer)
	if err != nil {
		return
	}
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() { // awaited below
		defer close(done)
		select {
		case <-leg.Done():
			stop()
		case <-pctx.Done():
		}
	}()
	if _, err := mc.Play(pctx, media.LegA, p, media.PlayOptions{}); err != nil && !errors.Is(err, context.Canceled) {
		a.log.Debug("feature confirmation", "error", err)
	}
	hangup(leg)
	stop()
	<-done
}

// inDialog answers the caller's in-dialog requests while the call is not bridged (the SIP
// layer relays them to the agent once it is): SIP INFO DTMF goes to the call's digits like
// RFC 4733; a re-INVITE or UPDATE offer (hold, new address) is answered by media itself.
func (c *call) inDialog(method, contentType string, body []byte) (int, []byte) {
	switch method {
	case "INFO":
		ev, err := media.ParseDTMFInfo(contentType, body)
		if err != nil {
			if len(body) == 0 {
				return 200, nil // keep-alive INFO
			}
			return 415, nil
		}
		ev.Leg = media.LegA
		c.mc.InjectDTMF(ev)
		return 200, nil
	case "INVITE", "UPDATE":
		if len(body) == 0 {
			return 488, nil // offerless re-INVITE: the answer would come in the ACK, not supported
		}
		ans, err := c.mc.AnswerLocal(media.LegA, body)
		if err != nil {
			if errors.Is(err, media.ErrOfferPending) {
				return 491, nil
			}
			return 488, nil
		}
		return 200, ans
	}
	return 501, nil
}

// localMedia answers in's offer with a media call of ccswitch's own (a feature code's prompt,
// a supervisor's leg): leg A faces the caller. On failure in is rejected (503: no media
// resources, 488: the offer) and ok is false; otherwise the caller closes mc.
func (a *App) localMedia(in *sip.Incoming, id string) (mc *media.Call, answer []byte, ok bool) {
	mc, err := a.media.NewCall(media.CallOptions{ID: id})
	if err != nil {
		in.Reject(503, "Service Unavailable")
		return nil, nil, false
	}
	mc.SetPeer(media.LegA, a.peerOf(in.Party()))
	answer, err = mc.AnswerLocal(media.LegA, in.Offer())
	if err != nil {
		mc.Close()
		in.Reject(488, "Not Acceptable Here")
		return nil, nil, false
	}
	return mc, answer, true
}
