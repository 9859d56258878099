package channels

import (
	"strconv"
	"strings"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/store"
)

// flowResult is what one run of the text flow decided.
type flowResult struct {
	replies  []string
	queue    string // non-empty: hand the conversation to this queue
	priority int
	reqs     []string
	hangup   bool // the flow ended without an agent
}

// textFlow interprets a config.Flow in text mode, a stand-in until the ivr interpreter offers
// a text Interaction: play sends Text (or Prompt), menu matches keywords or digits, gather
// stores the reply in Var, set records vars, language, priority and requirements, hours takes
// the Open branch (no calendar here yet), queue hands over, hangup ends. The escape keyword
// reaches Escape.Queue (or the default queue) from any node waiting for input.
type textFlow struct {
	f     config.Flow
	nodes map[string]*config.Node
}

func newTextFlow(f config.Flow) *textFlow {
	tf := &textFlow{f: f, nodes: map[string]*config.Node{}}
	for i := range f.Nodes {
		tf.nodes[f.Nodes[i].ID] = &f.Nodes[i]
	}
	return tf
}

func (tf *textFlow) start() string {
	if tf.f.Start != "" {
		return tf.f.Start
	}
	if len(tf.f.Nodes) > 0 {
		return tf.f.Nodes[0].ID
	}
	return ""
}

// run advances conv from conv.FlowNode; input is the customer's message when the flow was
// waiting at a menu or gather (FlowNode set), ignored otherwise.
func (tf *textFlow) run(conv *store.Conversation, input string, defQueue string) flowResult {
	var res flowResult
	if conv.Vars == nil {
		conv.Vars = map[string]string{}
	}
	id, waiting := conv.FlowNode, conv.FlowNode != ""
	if !waiting {
		id = tf.start()
	}
	word := strings.ToLower(strings.TrimSpace(input))
	if waiting && tf.f.Escape != nil && tf.f.Escape.Keyword != "" && word == strings.ToLower(tf.f.Escape.Keyword) {
		res.queue = tf.f.Escape.Queue
		if res.queue == "" {
			res.queue = defQueue
		}
		conv.FlowNode = ""
		return res
	}
	say := func(n *config.Node) {
		if t := firstNonEmpty(n.Text, n.Prompt); t != "" {
			res.replies = append(res.replies, t)
		}
	}
	for steps := 0; steps < 64 && id != ""; steps++ {
		n := tf.nodes[id]
		if n == nil {
			break
		}
		switch n.Type {
		case "play":
			say(n)
			id = n.Next
		case "menu":
			if !waiting {
				say(n)
				conv.FlowNode = n.ID
				return res
			}
			waiting = false
			next := ""
			for _, c := range n.Choices {
				if c.Digits != "" && word == c.Digits {
					next = c.Next
				}
				for _, k := range c.Keywords {
					if word == strings.ToLower(k) || strings.Contains(" "+word+" ", " "+strings.ToLower(k)+" ") {
						next = c.Next
					}
				}
				if next != "" {
					break
				}
			}
			conv.Vars[n.ID] = input
			if next == "" {
				next = n.Invalid
				if next == "" {
					say(n) // ask again
					conv.FlowNode = n.ID
					return res
				}
			}
			id = next
		case "gather":
			if !waiting {
				say(n)
				conv.FlowNode = n.ID
				return res
			}
			waiting = false
			if n.Var != "" {
				conv.Vars[n.Var] = strings.TrimSpace(input)
			}
			id = n.Next
		case "set":
			for k, v := range n.Vars {
				conv.Vars[k] = v
			}
			if n.Language != "" {
				conv.Vars["language"] = n.Language
			}
			if n.Priority != nil {
				res.priority = *n.Priority
				conv.Vars["priority"] = strconv.Itoa(*n.Priority)
			}
			res.reqs = append(res.reqs, n.Requirements...)
			id = n.Next
		case "hours":
			id = firstNonEmpty(n.Open, n.Next)
		case "queue":
			say(n)
			res.queue = firstNonEmpty(n.Queue, defQueue)
			conv.FlowNode = ""
			return res
		case "hangup":
			say(n)
			res.hangup = true
			conv.FlowNode = ""
			return res
		default: // transfer, voicemail: no text meaning; hand to a person
			res.queue = defQueue
			conv.FlowNode = ""
			return res
		}
	}
	// Fell off the end of the flow: a person takes over.
	conv.FlowNode = ""
	res.queue = defQueue
	return res
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
