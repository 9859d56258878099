package sip

import (
	"github.com/ccswitch/ccswitch/sip/route"
	"github.com/ccswitch/ccswitch/sip/validate"
	gsip "github.com/emiago/sipgo/sip"
)

// Decide says what a request to reach dialled is (package route): the one routing decision
// and outbound-permission check of ccswitch. A dialled INVITE is decided here; so must be a
// REFER's target, a click-to-dial and a queue callback, each with the extension whose rights
// apply as req.User (and req.Trunk empty). It reads the configuration and the trunks' health
// in force now; it takes no limit slot (the call that carries the decision out does).
func (s *Server) Decide(req route.Request) route.Decision {
	r := s.routes.Load()
	return route.Decide(r.table, req, r.trunkUp)
}

// trunkUp is the health the decision sees: a trunk is up while one of its destinations is.
func (r *routing) trunkUp(name string) bool {
	t := r.byName[name]
	return t != nil && t.up()
}

// routeTable compiles the routing decision's view of r.
func (r *routing) routeTable(emergency map[string]bool, emergencyTrunk string, features bool) *route.Table {
	t := &route.Table{
		Users:          make(map[string]route.User, len(r.users)),
		Numbers:        make(map[string]route.Number, len(r.numbers)),
		Emergency:      emergency,
		EmergencyTrunk: emergencyTrunk,
		Features:       features,
	}
	for ext, u := range r.users {
		t.Users[ext] = route.User{Outbound: u.Outbound}
	}
	for did, n := range r.numbers {
		t.Numbers[did] = route.Number{Target: n.Target, Flow: n.Flow}
	}
	for _, tr := range r.trunks {
		if len(tr.dests) == 0 {
			continue
		}
		t.Trunks = append(t.Trunks, route.TrunkOut{Name: tr.cfg.Name, Prefixes: tr.prefixes})
	}
	return t
}

// refused counts and logs (once a minute per cause and source) an INVITE routing refused.
func (s *Server) refused(req *gsip.Request, rq route.Request, d route.Decision) {
	s.trunkm.refusals.WithLabelValues(d.Cause).Inc()
	who := rq.User
	if who == "" {
		who = rq.Trunk
	}
	s.refusals.Info("route|"+d.Cause+"|"+who+"|"+sourceIP(req), "call refused by routing",
		"source", req.Source(), "user", rq.User, "trunk", rq.Trunk,
		"dialled", validate.Sanitize(truncate(rq.Dialled, 40)), "status", d.Status, "cause", d.Cause)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
