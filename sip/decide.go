package sip

import (
	"github.com/ccswitch/ccswitch/sip/route"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/sip/validate"
)

// Decide says what a request to reach req.Dialled is: the one routing decision and
// outbound-permission check of ccswitch (package route), plus the caller's destination rules
// (class of service, users[].allow/deny: 403 "Destination Not Allowed", cause
// "destination"). A REFER's target, a click-to-dial and a queue callback must be decided
// here, each with the extension whose rights apply as req.User (and req.Trunk empty): only
// a Decision of Kind Trunk or Emergency may reach a trunk. It reads the configuration and
// the trunks' health in force now and takes no limit slot (rates, concurrent calls and daily
// minutes are taken by the call that carries the decision out). A dialled INVITE takes the
// same decision (onInvite), its destination rule applied with its limits (sip/limit).
func (s *Server) Decide(req route.Request) route.Decision {
	r := s.routes.Load()
	d := route.Decide(r.table, req, r.trunkUp)
	if d.Kind == route.Trunk && !s.lim.DestinationAllowed(req.User, d.Number) {
		return route.Decision{Kind: route.Refuse, Status: 403, Reason: "Destination Not Allowed", Cause: CauseDestination}
	}
	return d
}

// CauseDestination is Server.Decide's refusal cause for a number the caller's destination
// rules deny.
const CauseDestination = "destination"

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
