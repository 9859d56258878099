package config

import (
	"testing"

	"github.com/ccswitch/ccswitch/acd"
)

// TestACDDefinitions checks that what `ccswitch check` accepts, the engine accepts too.
func TestACDDefinitions(t *testing.T) {
	c, err := parse("c.yaml", []byte(`
skills:
  - {name: language, type: enum, values: [en, fr]}
  - {name: sales, type: proficiency}
  - {name: vip, type: boolean}
  - {name: region, type: text}
profiles:
  - {name: senior-fr, skills: {language: fr, sales: "8"}}
queues:
  - name: sales
    channels: [voice, chat]
    requirements: ["sales >= 6", "language == fr"]
    strategy: most-skilled
    max_wait: 5m
    overflow: support
    relax:
      - {after: 30s, set: ["sales >= 3"]}
      - {after: 60s, drop: [language]}
  - name: support
    requirements: ["language in (en, fr)", "!vip"]
agents:
  - {id: a1, profiles: [senior-fr], skills: {vip: "true", region: north}, queues: [sales, support], capacity: {chat: 2}, no_chat_during_call: true}
  - {id: a2, skills: {language: en, sales: "3"}, queues: [support]}
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	ac, err := c.ACD()
	if err != nil {
		t.Fatal(err)
	}
	if len(ac.Queues) != 2 || len(ac.Agents) != 2 || len(ac.Profiles) != 1 || len(ac.Queues[0].Relax) != 2 {
		t.Fatalf("definitions = %+v", ac)
	}
	if got := ac.Agents[0].Capacity[acd.Chat]; got != 2 {
		t.Errorf("a1 chat capacity = %d, want 2", got)
	}
	if got := ac.Agents[1].Capacity[acd.Voice]; got != 1 {
		t.Errorf("a2 voice capacity = %d, want the default 1", got)
	}
	ac.Sink = acd.SinkFunc(func(acd.Event) {})
	if _, err := acd.New(ac); err != nil {
		t.Fatalf("acd.New refused a configuration that check accepts: %v", err)
	}
}
