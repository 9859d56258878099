package voice

import "time"

// Desk is what an agent's desktop shows of the waiting callers they took: the callback they
// preview (until shortly after it dials) and the messages to the queue they hold.
type Desk struct {
	Callback   *Preview    `json:"callback,omitempty"`
	Voicemails []Voicemail `json:"voicemails,omitempty"`
}

// previewShown is how long after its deadline a preview stays on the desktop.
const previewShown = 30 * time.Second

// Desk returns what agent's desktop shows now.
func (a *App) Desk(agent string) Desk {
	m := a.cb
	m.mu.Lock()
	defer m.mu.Unlock()
	var d Desk
	now := time.Now()
	for _, p := range m.byACD {
		switch {
		case p.vm != nil && p.vm.Agent == agent && !p.done:
			d.Voicemails = append(d.Voicemails, *p.vm)
		case p.preview != nil && p.preview.Agent == agent && now.Before(p.preview.Deadline.Add(previewShown)):
			pr := *p.preview
			d.Callback = &pr
		}
	}
	return d
}
