package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/ccswitch/ccswitch/store"
)

// Roles (invariant 4 in doc.go): an agent reads and acts on their own conversations (assigned
// to them, or offered to them now) and the customers of those conversations; a supervisor
// also sees every conversation and customer, searches all customers, links and unlinks
// customers (each an audit record) and sees the wallboard's per-agent detail.

// supervisorOnly runs h for supervisors; an agent gets 403.
func (s *Server) supervisorOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !callerOf(r).supervisor {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "supervisors only"})
			return
		}
		h(w, r)
	}
}

func (s *Server) offered(agent string) map[string]bool {
	out := map[string]bool{}
	for _, o := range s.svc.Offers(agent) {
		out[o.Conv] = true
	}
	return out
}

// mayRead reports whether the caller may read conversation c.
func (s *Server) mayRead(who caller, c store.Conversation) bool {
	return who.supervisor || (c.Agent != "" && c.Agent == who.agent) || s.offered(who.agent)[c.ID]
}

// ownCustomers are the (surviving) customers of the agent's own conversations.
func (s *Server) ownCustomers(agent string) (map[string]bool, error) {
	all, err := s.opts.Store.Conversations("")
	if err != nil {
		return nil, err
	}
	offered := s.offered(agent)
	out := map[string]bool{}
	for _, c := range all {
		if (c.Agent == "" || c.Agent != agent) && !offered[c.ID] {
			continue
		}
		if cu, ok, err := s.opts.Store.Customer(c.Customer); err == nil && ok {
			out[cu.ID] = true
		}
	}
	return out, nil
}

// mayReadCustomer reports whether the caller may read customer id (followed to its survivor).
func (s *Server) mayReadCustomer(who caller, id string) (bool, error) {
	if who.supervisor {
		return true, nil
	}
	cu, ok, err := s.opts.Store.Customer(id)
	if err != nil || !ok {
		return false, err
	}
	own, err := s.ownCustomers(who.agent)
	return own[cu.ID], err
}

func forbidden(w http.ResponseWriter) {
	writeJSON(w, http.StatusForbidden, map[string]string{"error": "not yours"})
}

// unlink splits customer other back out of customer id (a supervisor's decision).
func (s *Server) unlink(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Other string `json:"other"`
	}
	if !decode(w, r, &req) {
		return
	}
	surv, ok, err := s.opts.Store.Customer(r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return
	}
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such customer"})
		return
	}
	a := store.Audit{Time: s.now(), Agent: agentOf(r), Action: "unlink", Customer: surv.ID, Other: req.Other}
	c, o, err := s.svc.Unlink(surv.ID, req.Other, a)
	if errors.Is(err, store.ErrNotLinked) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "customers not linked"})
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	s.log.Info("customers unlinked by supervisor", "agent", a.Agent, "customer", c.ID, "other", o.ID)
	writeJSON(w, http.StatusOK, map[string]any{"customer": c, "other": o})
}

// audit lists the newest audit records (?limit, default 100).
func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || n <= 0 || n > 1000 {
		n = 100
	}
	as, err := s.opts.Store.Audits(n)
	if err != nil {
		s.fail(w, err)
		return
	}
	if as == nil {
		as = []store.Audit{}
	}
	writeJSON(w, http.StatusOK, as)
}
