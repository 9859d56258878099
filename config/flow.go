package config

import (
	"fmt"
	"slices"
	"strings"
)

// flows checks each flow as a graph: known node types, the fields each type needs, edges to
// existing nodes, no node that cannot be reached from the start, and known queues.
func (v *validator) flows(queues map[string]bool) map[string]bool {
	flows := map[string]bool{}
	for i, f := range v.c.Flows {
		p := fmt.Sprintf("flows[%d]", i)
		v.uniqueName(p+".name", "flow", f.Name, flows)
		if len(f.Nodes) == 0 {
			v.failAt(p, "flow %q has no nodes", f.Name)
			continue
		}
		ids := map[string]int{}
		for j, n := range f.Nodes {
			np := fmt.Sprintf("%s.nodes[%d]", p, j)
			switch _, dup := ids[n.ID]; {
			case !nameRE.MatchString(n.ID):
				v.failAt(np+".id", "want an id of letters, digits, _ . -, got %q", n.ID)
			case dup:
				v.failAt(np+".id", "duplicate node %q", n.ID)
			default:
				ids[n.ID] = j
			}
		}
		start := f.Start
		if start == "" {
			start = f.Nodes[0].ID
		} else if _, ok := ids[start]; !ok {
			v.failAt(p+".start", "unknown node %q", start)
		}
		if e := f.Escape; e != nil {
			if e.Digit == "" && e.Keyword == "" {
				v.failAt(p+".escape", "escape needs a digit or a keyword")
			}
			if len(e.Digit) > 1 || (e.Digit != "" && !strings.Contains("0123456789*#", e.Digit)) {
				v.failAt(p+".escape.digit", "want one DTMF digit, got %q", e.Digit)
			}
			if !queues[e.Queue] {
				v.failAt(p+".escape.queue", "unknown queue %q", e.Queue)
			}
		}
		edges := make([][]string, len(f.Nodes))
		for j, n := range f.Nodes {
			np := fmt.Sprintf("%s.nodes[%d]", p, j)
			edges[j] = v.node(np, n, ids, queues)
		}
		// Reachability from the start.
		seen := make([]bool, len(f.Nodes))
		var visit func(id string)
		visit = func(id string) {
			j, ok := ids[id]
			if !ok || seen[j] {
				return
			}
			seen[j] = true
			for _, e := range edges[j] {
				visit(e)
			}
		}
		visit(start)
		for j, ok := range seen {
			if !ok {
				v.failAt(fmt.Sprintf("%s.nodes[%d]", p, j), "node %q cannot be reached from %q", f.Nodes[j].ID, start)
			}
		}
		v.quietLoops(p, f, ids, edges)
	}
	return flows
}

// node checks one node and returns the ids it leads to.
func (v *validator) node(np string, n Node, ids map[string]int, queues map[string]bool) []string {
	var out []string
	edge := func(field, id string, required bool) {
		if id == "" {
			if required {
				v.failAt(np, "%s node needs %s", n.Type, field)
			}
			return
		}
		if _, ok := ids[id]; !ok {
			v.failAt(np+"."+field, "unknown node %q", id)
			return
		}
		out = append(out, id)
	}
	need := func(field, val string) {
		if val == "" {
			v.failAt(np, "%s node needs %s", n.Type, field)
		}
	}
	switch n.Type {
	case "play":
		if n.Prompt == "" && n.Text == "" {
			v.failAt(np, "play node needs prompt or text")
		}
		edge("next", n.Next, true)
	case "menu":
		need("prompt", n.Prompt+n.Text)
		if len(n.Choices) == 0 {
			v.failAt(np, "menu node needs choices")
		}
		seenDigits := map[string]bool{}
		for k, c := range n.Choices {
			cp := fmt.Sprintf("%s.choices[%d]", np, k)
			if c.Digits == "" && len(c.Keywords) == 0 {
				v.failAt(cp, "a choice needs digits or keywords")
			}
			if c.Digits != "" && seenDigits[c.Digits] {
				v.failAt(cp+".digits", "duplicate choice %q", c.Digits)
			}
			seenDigits[c.Digits] = true
			if _, ok := ids[c.Next]; !ok {
				v.failAt(cp+".next", "unknown node %q", c.Next)
			} else {
				out = append(out, c.Next)
			}
		}
		edge("invalid", n.Invalid, false)
		edge("no_input", n.NoInput, false)
	case "gather":
		need("var", n.Var)
		edge("next", n.Next, true)
	case "set":
		if n.Language == "" && n.Priority == nil && len(n.Vars) == 0 && len(n.Requirements) == 0 {
			v.failAt(np, "set node sets nothing")
		}
		edge("next", n.Next, true)
	case "hours":
		edge("open", n.Open, true)
		edge("closed", n.Closed, true)
		edge("holiday", n.Holiday, false)
	case "queue":
		if !queues[n.Queue] {
			v.failAt(np+".queue", "unknown queue %q", n.Queue)
		}
		edge("overflow", n.Overflow, false)
		edge("next", n.Next, false)
		v.queueWaiting(np, n)
	case "transfer":
		need("target", n.Target)
	case "voicemail":
		edge("next", n.Next, false)
	case "hangup":
	default:
		v.failAt(np+".type", "unknown node type %q (want %s)", n.Type, strings.Join(NodeTypes, ", "))
	}
	if n.Type != "" && !slices.Contains([]string{"menu", "gather"}, n.Type) && (n.Retries != 0 || n.Timeout != 0) {
		v.failAt(np, "timeout and retries are for menu and gather nodes")
	}
	if n.Type != "" && n.Type != "queue" && (n.Callback != nil || n.Voicemail != nil || n.AnnounceEvery != 0) {
		v.failAt(np, "callback, voicemail and announce_every are for queue nodes")
	}
	return out
}

// quietLoops reports a cycle made only of nodes that wait for nothing (play, set, hours): a
// caller entering it would loop for ever without a chance to answer.
func (v *validator) quietLoops(p string, f Flow, ids map[string]int, edges [][]string) {
	quiet := func(j int) bool { return slices.Contains([]string{"play", "set", "hours"}, f.Nodes[j].Type) }
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(f.Nodes))
	var visit func(j int) bool
	visit = func(j int) bool {
		color[j] = grey
		for _, e := range edges[j] {
			k, ok := ids[e]
			if !ok || !quiet(k) {
				continue
			}
			if color[k] == grey {
				v.failAt(fmt.Sprintf("%s.nodes[%d]", p, k), "nodes from %q back to it form a loop that never waits for the caller", f.Nodes[k].ID)
				return true
			}
			if color[k] == white && visit(k) {
				return true
			}
		}
		color[j] = black
		return false
	}
	for j := range f.Nodes {
		if quiet(j) && color[j] == white && visit(j) {
			return // one loop report per flow is enough
		}
	}
}
