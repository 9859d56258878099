package main

import "github.com/ccswitch/ccswitch/sip/voice"

// waitingDesk shows the desktop the callbacks and messages to queues an agent took
// (web.Waiting over the voice App).
type waitingDesk struct{ app *voice.App }

func (w waitingDesk) Desk(agent string) any { return w.app.Desk(agent) }

func (w waitingDesk) VoicemailFile(agent, task string) (string, bool) {
	v, ok := w.app.Voicemail(agent, task)
	return v.Recording, ok
}

func (w waitingDesk) VoicemailDone(agent, task string) error { return w.app.VoicemailDone(agent, task) }
