package voice

import (
	"errors"
	"fmt"
)

// ErrNoCall: TransferCall named no call the agent is talking on.
var ErrNoCall = errors.New("voice: no such call with this agent")

// TransferCall transfers the caller of call callID (as the screen pop named it), whom agent is
// talking to, to target (an extension or a number): the desktop's Transfer button. The target
// is routed as if the agent's extension dialled it (sip.Server.Transfer: its outbound right
// and limits); on success the agent's phone gets a BYE and its task completes, as after a
// REFER from the phone. It returns once the target answered, or why it did not (the caller
// and the agent then stay bridged).
func (a *App) TransferCall(agent, callID, target string) error {
	v, ok := a.byCall.Load(callID)
	if !ok {
		return ErrNoCall
	}
	c := v.(*call)
	leg := c.agentLeg.Load()
	ext, ok := a.center.ExtensionOf(agent)
	if leg == nil || !ok || leg.Party().User != ext {
		return ErrNoCall
	}
	srv := a.srv.Load()
	if srv == nil {
		return errors.New("voice: transfer: no SIP server")
	}
	if err := srv.Transfer(leg, ext, target); err != nil {
		return fmt.Errorf("voice: transfer to %s: %w", target, err)
	}
	return nil
}
