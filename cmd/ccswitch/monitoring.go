package main

import (
	"context"

	"github.com/ccswitch/ccswitch/sip/voice"
	"github.com/ccswitch/ccswitch/web"
)

// monitoring gives the wallboard (web) the voice App's supervisor side: live calls and the
// Listen / Whisper / Barge buttons.
type monitoring struct{ app *voice.App }

func (m monitoring) LiveCalls() []web.LiveCall {
	calls := m.app.LiveCalls()
	out := make([]web.LiveCall, len(calls))
	for i, c := range calls {
		out[i] = web.LiveCall(c)
	}
	return out
}

func (m monitoring) Monitor(ctx context.Context, supervisor, agent, mode string) error {
	return m.app.Monitor(ctx, supervisor, agent, mode)
}
