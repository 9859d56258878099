package web

import (
	"errors"
	"net/http"
	"strings"
)

// CallTransferer transfers an agent's voice call (sip/voice.App implements it): the caller of
// callID, whom agent is talking to, goes to target, an extension or a number routed with the
// agent's extension's own outbound permission. It returns once the target answered.
type CallTransferer interface {
	TransferCall(agent, callID, target string) error
}

// errNoCalls: the server has no voice side to transfer calls with.
var errNoCalls = errors.New("web: calls cannot be transferred here")

// transferCall is POST /api/calls/{call}/transfer {"target": "1004" | "+15551234"}: the
// desktop's Transfer button for the call of the agent's screen pop.
func (s *Server) transferCall(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Target string `json:"target"`
	}
	if !decode(w, r, &req) {
		return
	}
	target := strings.TrimSpace(req.Target)
	if target == "" || len(target) > 64 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "target: an extension or a number"})
		return
	}
	if s.opts.Calls == nil {
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": errNoCalls.Error()})
		return
	}
	if err := s.opts.Calls.TransferCall(agentOf(r), r.PathValue("call"), target); err != nil {
		// The call is not the agent's, or the target refused or did not answer: the caller
		// stays with the agent.
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{})
}
