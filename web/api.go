package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/store"
)

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.Header.Get("Content-Type") != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "send application/json"})
		return false
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad json"})
		return false
	}
	return true
}

// fail maps the service's errors to statuses.
func (s *Server) fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, channels.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, channels.ErrNotYours):
		code = http.StatusForbidden
	case errors.Is(err, channels.ErrBadInput), errors.Is(err, acd.ErrUnknownQueue), errors.Is(err, center.ErrUnknownAgent):
		code = http.StatusBadRequest
	case errors.Is(err, channels.ErrNoAdapter):
		code = http.StatusBadGateway
	}
	if code >= 500 {
		// The detail (paths, addresses, a provider's answer) stays in the log.
		s.log.Error("api", "status", code, "error", err)
		writeJSON(w, code, map[string]string{"error": http.StatusText(code)})
		return
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

type convSummary struct {
	store.Conversation
	Name string `json:"name"`
}

func (s *Server) summaries(cs []store.Conversation) []convSummary {
	out := make([]convSummary, 0, len(cs))
	for _, c := range cs {
		if cu, ok, _ := s.opts.Store.Customer(c.Customer); ok {
			c.Customer = cu.ID // the surviving record after a link
			out = append(out, convSummary{Conversation: c, Name: cu.Name})
			continue
		}
		out = append(out, convSummary{Conversation: c})
	}
	return out
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	agent := agentOf(r)
	convs, err := s.svc.AgentConversations(agent)
	if err != nil {
		s.fail(w, err)
		return
	}
	capacity := map[string]int{}
	m := s.model.Load()
	for _, a := range m.cfg.Agents {
		if a.ID == agent {
			capacity = a.Capacity
		}
	}
	offers := s.svc.Offers(agent)
	if offers == nil {
		offers = []channels.Offer{}
	}
	presence, _ := s.opts.Center.Presence(agent)
	writeJSON(w, http.StatusOK, map[string]any{"agent": agent, "name": m.agents[agent].name, "role": m.agents[agent].role(), "presence": presence,
		"offers": offers, "conversations": s.summaries(convs), "queues": s.svc.Queues(), "capacity": capacity,
		"reasons": []string{"Break", "Lunch", "Training", "Meeting", "Other"}})
}

func (s *Server) setState(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Ready  bool   `json:"ready"`
		Reason string `json:"reason"`
	}
	if !decode(w, r, &req) {
		return
	}
	if !req.Ready && strings.TrimSpace(req.Reason) == "" {
		req.Reason = "Other"
	}
	if err := s.opts.Center.SetReady(agentOf(r), req.Ready, req.Reason); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"ready": req.Ready, "reason": req.Reason})
}

// setVoice logs the agent in to voice or out of it (an explicit logout holds against
// auto_login until the next login).
func (s *Server) setVoice(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Login bool `json:"login"`
	}
	if !decode(w, r, &req) {
		return
	}
	op := s.opts.Center.VoiceLogout
	if req.Login {
		op = s.opts.Center.VoiceLogin
	}
	if err := op(agentOf(r)); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"login": req.Login})
}

func (s *Server) accept(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Accept(agentOf(r), r.PathValue("conv")); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{})
}

func (s *Server) reject(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Reject(agentOf(r), r.PathValue("conv")); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{})
}

func (s *Server) conversation(w http.ResponseWriter, r *http.Request) {
	c, ms, err := s.svc.Conversation(r.PathValue("conv"), 0)
	if err != nil {
		s.fail(w, err)
		return
	}
	if !s.mayRead(callerOf(r), c) {
		forbidden(w)
		return
	}
	cu, _, _ := s.opts.Store.Customer(c.Customer)
	writeJSON(w, http.StatusOK, map[string]any{"conversation": c, "messages": ms, "customer": cu})
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Text string `json:"text"`
	}
	if !decode(w, r, &req) {
		return
	}
	m, err := s.svc.Reply(r.Context(), agentOf(r), r.PathValue("conv"), req.Text)
	if err != nil && m.Seq == 0 {
		s.fail(w, err)
		return
	}
	// Stored; Status says whether the provider took it.
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) transfer(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Queue string `json:"queue"`
	}
	if !decode(w, r, &req) {
		return
	}
	if err := s.svc.Transfer(agentOf(r), r.PathValue("conv"), req.Queue); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{})
}

func (s *Server) closeConv(w http.ResponseWriter, r *http.Request) {
	var req struct {
		WrapUp string `json:"wrapup"`
		Notes  string `json:"notes"`
	}
	if !decode(w, r, &req) {
		return
	}
	if err := s.svc.Close(agentOf(r), r.PathValue("conv"), req.WrapUp, req.Notes); err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{})
}

// customers finds customers whose name or an identity contains q (at most 20): any customer
// for a supervisor, those of the agent's own conversations for an agent.
func (s *Server) customers(w http.ResponseWriter, r *http.Request) {
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	all, err := s.opts.Store.Customers()
	if err != nil {
		s.fail(w, err)
		return
	}
	var own map[string]bool
	if who := callerOf(r); !who.supervisor {
		if own, err = s.ownCustomers(who.agent); err != nil {
			s.fail(w, err)
			return
		}
	}
	out := []store.Customer{}
	for _, c := range all {
		if own != nil && !own[c.ID] {
			continue
		}
		match := q == "" || strings.Contains(strings.ToLower(c.Name), q) || c.ID == q ||
			slices.ContainsFunc(c.Identities, func(id store.Identity) bool { return strings.Contains(strings.ToLower(id.Value), q) })
		if match {
			out = append(out, c)
		}
		if len(out) == 20 {
			break
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) timeline(w http.ResponseWriter, r *http.Request) {
	if ok, err := s.mayReadCustomer(callerOf(r), r.PathValue("id")); err != nil {
		s.fail(w, err)
		return
	} else if !ok {
		forbidden(w)
		return
	}
	t, err := s.svc.Timeline(r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) link(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Other string `json:"other"`
	}
	if !decode(w, r, &req) {
		return
	}
	c, err := s.svc.Link(agentOf(r), r.PathValue("id"), req.Other)
	if err != nil {
		s.fail(w, err)
		return
	}
	other := req.Other
	if other == c.ID {
		other = r.PathValue("id")
	}
	if err := s.opts.Store.PutAudit(store.Audit{Time: s.now(), Agent: agentOf(r), Action: "link", Customer: c.ID, Other: other}); err != nil {
		s.log.Error("link audit record not written", "agent", agentOf(r), "customer", c.ID, "error", err)
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	snap := s.opts.Center.Snapshot()
	type agentRow struct {
		ID, Name, State, Reason string
		Load, Capacity          map[string]int
		// Voice and Text: signed in for voice (a phone), for text (a desktop).
		Voice, Text bool
	}
	agents := []agentRow{}
	for _, a := range snap.Agents {
		if !callerOf(r).supervisor { // the per-agent detail is the supervisors'
			break
		}
		row := agentRow{ID: a.ID, Name: a.Name, State: a.State.String(), Reason: a.Reason, Load: map[string]int{}, Capacity: map[string]int{}}
		for ch := acd.Channel(0); ch < acd.NumChannels; ch++ {
			row.Load[ch.String()], row.Capacity[ch.String()] = a.Load[ch], a.Capacity[ch]
		}
		if p, ok := s.opts.Center.Presence(a.ID); ok {
			row.Voice, row.Text = p.Voice, p.Text
		}
		agents = append(agents, row)
	}
	writeJSON(w, http.StatusOK, map[string]any{"time": snap.Time, "queues": snap.Queues, "agents": agents})
}
