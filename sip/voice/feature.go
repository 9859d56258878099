package voice

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip"
)

// FeatureReady is the feature code an agent dials from their phone to toggle between ready
// (available) and not ready; an agent who is logged out is logged in.
const FeatureReady = "*45"

// isFeature tells a feature code ("*45") from a number.
func isFeature(did string) bool { return strings.HasPrefix(did, "*") }

// feature handles a feature code dialled by an extension: only the agent whose phone it is
// may use it (the SIP layer gives the authenticated extension, never the From header). The
// caller hears a short confirmation — prompt "agent-ready" or "agent-not-ready", else the
// digit 1 or 0 — and is hung up.
func (a *App) feature(ctx context.Context, in *sip.Incoming, st *state) {
	code := in.Number().DID
	user := ""
	if u, ok := any(in).(interface{ User() string }); ok {
		user = u.User()
	}
	agent, ok := st.extAgent[user]
	if code != FeatureReady {
		in.Reject(404, "Not Found")
		return
	}
	if !ok || a.acd == nil {
		in.Reject(403, "Not An Agent")
		return
	}
	state := acd.Offline
	if s, ok := a.acd.Snapshot().Agent(agent); ok {
		state = s.State
	}
	var err error
	ready := false
	switch state {
	case acd.Offline:
		err, ready = a.acd.AgentLogin(agent), true
	case acd.NotReady, acd.RONA:
		err, ready = a.acd.SetState(agent, acd.Available, ""), true
	default: // available, busy, wrap-up
		err = a.acd.SetState(agent, acd.NotReady, "feature code "+code)
	}
	if err != nil {
		a.log.Warn("feature code failed", "agent", agent, "code", code, "error", err)
		in.Reject(500, "Server Internal Error")
		return
	}
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	a.acd.Sync(sctx)
	cancel()
	a.log.Info("agent state by feature code", "agent", agent, "code", code, "was", state.String(), "ready", ready)

	name, fallback := "agent-not-ready", "digit-0"
	if ready {
		name, fallback = "agent-ready", "digit-1"
	}
	p, err := st.prompts.load(name, in.Number().Language)
	if err != nil {
		p, err = st.prompts.load(fallback, in.Number().Language)
	}
	if err != nil || len(in.Offer()) == 0 || a.media == nil {
		in.Reject(480, "Temporarily Unavailable") // the change is made; no way to say so
		return
	}
	mc, err := a.media.NewCall(media.CallOptions{ID: "feature-" + user})
	if err != nil {
		in.Reject(503, "Service Unavailable")
		return
	}
	defer mc.Close()
	mc.SetPeer(media.LegA, a.peerOf(in.Party()))
	answer, err := mc.AnswerLocal(media.LegA, in.Offer())
	if err != nil {
		in.Reject(488, "Not Acceptable Here")
		return
	}
	leg, err := in.Answer(answer)
	if err != nil {
		return
	}
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
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
