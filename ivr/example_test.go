package ivr_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/ivr"
)

// console is the smallest text Interaction: it prints what the bot says and answers from a
// list of messages. A real text channel sends through its adapter and waits for the
// conversation's next message; the voice path plays WAVs and reads DTMF.
type console struct{ replies []string }

func (c *console) Channel() string { return "chat" }

func (c *console) Play(_ context.Context, p ivr.Prompt) (string, error) {
	fmt.Printf("bot [%s]: %s\n", p.Language, p.Text)
	return "", nil
}

func (c *console) Collect(context.Context, ivr.CollectOptions) (string, error) {
	if len(c.replies) == 0 {
		return "", ivr.ErrHungUp
	}
	r := c.replies[0]
	c.replies = c.replies[1:]
	fmt.Println("customer:", r)
	return r, nil
}

func (c *console) Enqueue(_ context.Context, q ivr.QueueRequest) (ivr.QueueOutcome, error) {
	fmt.Printf("queued to %s with [%v]\n", q.Queue, q.Requirements)
	return ivr.QueueOutcome{Result: ivr.QueueAnswered, Agent: "alice"}, nil
}

func (c *console) Transfer(context.Context, string) error { return nil }

func (c *console) Record(context.Context, ivr.RecordOptions) (string, error) { return "", nil }

func (c *console) Hangup(context.Context) error {
	fmt.Println("bot closes the conversation")
	return nil
}

func ExampleFlows_Run() {
	cfg, err := config.Parse("example.yaml", []byte(`
queues: [{name: support}]
numbers:
  - did: "+15550103"
    flow: main
    timezone: Europe/Paris
    hours: [{days: mon-fri, open: ["09:00-17:00"]}]
flows:
  - name: main
    escape: {keyword: agent, queue: support}
    nodes:
      - id: menu
        type: menu
        text: "Hello! Billing or orders?"
        prompt: menu
        retries: 1
        choices:
          - {keywords: [billing, invoice], next: billing}
          - {keywords: [orders, order], next: billing}
      - {id: billing, type: set, requirements: ["billing >= 5"], next: q}
      - {id: q, type: queue, queue: support}
`))
	if err != nil {
		panic(err)
	}
	monday10 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	flows, err := ivr.Compile(cfg, ivr.Options{Now: func() time.Time { return monday10 }})
	if err != nil {
		panic(err)
	}
	res, err := flows.Run(context.Background(), ivr.Contact{DID: "+15550103"},
		&console{replies: []string{"hi", "A question about my Invoice"}})
	fmt.Println(res.Outcome, res.Agent, err)
	for _, s := range res.Path {
		fmt.Printf("  %s %q %s\n", s.Node, s.Input, s.Event)
	}
	// Output:
	// bot [en]: Hello! Billing or orders?
	// customer: hi
	// bot [en]: Sorry, that is not one of the choices.
	// bot [en]: Hello! Billing or orders?
	// customer: A question about my Invoice
	// queued to support with [billing >= 5]
	// answered alice <nil>
	//   menu "hi" invalid
	//   menu "A question about my Invoice" choice billing
	//   billing "" require billing >= 5
	//   q "" answered alice
}
