package acd_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/acd/acdtest"
)

func ExampleParseCondition() {
	for _, s := range []string{"language == fr", "sales>=6", "vip", "!trainee", "tier in (gold, platinum)", "sales =< 3"} {
		c, err := acd.ParseCondition(s)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Printf("%-26q skill=%s op=%q -> %s\n", s, c.Skill, c.Op, c)
	}
	// Output:
	// "language == fr"           skill=language op="==" -> language == fr
	// "sales>=6"                 skill=sales op=">=" -> sales >= 6
	// "vip"                      skill=vip op="" -> vip
	// "!trainee"                 skill=trainee op="!" -> !trainee
	// "tier in (gold, platinum)" skill=tier op="in" -> tier in (gold, platinum)
	// error: condition "sales =< 3": offset 6: expected operator, got "=< 3": syntax error
}

// A call waits for a French-speaking agent; after 30 s any agent will
// do. The voice path would ring the agent on reservation-created and
// call Accept on answer.
func ExampleEngine() {
	clk := acdtest.NewClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	var e *acd.Engine
	sink := acd.SinkFunc(func(ev acd.Event) {
		switch ev.Kind {
		case acd.EventAgentState:
			fmt.Printf("%s agent %s is %s\n", ev.Time.Format("15:04:05"), ev.Agent, ev.State)
		default:
			fmt.Printf("%s %s task=%s agent=%s\n", ev.Time.Format("15:04:05"), ev.Kind, ev.Task, ev.Agent)
		}
		if ev.Kind == acd.EventReservationCreated {
			// The phone rang and the agent answered. Submitting from the
			// sink is allowed: it never blocks.
			_ = e.Accept(ev.Reservation)
		}
	})
	e, err := acd.New(acd.Config{
		Skills: []acd.SkillDef{{Name: "language", Type: acd.Enum, Values: []string{"en", "fr"}}},
		Queues: []acd.QueueDef{{
			Name: "support", Requirements: []string{"language == fr"},
			Relax: []acd.RelaxStep{{After: 30 * time.Second, Drop: []string{"language"}}},
		}},
		Agents: []acd.AgentDef{{ID: "ann", Skills: map[string]string{"language": "en"},
			Queues: []string{"support"}, Capacity: map[acd.Channel]int{acd.Voice: 1}}},
		Clock: clk,
		Sink:  sink,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()

	_ = e.AgentLogin("ann")
	_ = e.Enqueue(acd.Task{ID: "call-1", Queue: "support", Channel: acd.Voice})
	_ = e.Sync(ctx)
	clk.Advance(30 * time.Second)
	_ = e.Sync(ctx)
	_ = e.Complete("call-1")
	_ = e.Sync(ctx)
	q, _ := e.Snapshot().Queue("support")
	fmt.Printf("answered=%d avg-speed-of-answer=%v\n", q.Answered, q.AvgSpeedOfAnswer)
	cancel()
	<-done
	// Output:
	// 09:00:00 agent ann is available
	// 09:00:00 task-queued task=call-1 agent=
	// 09:00:30 task-relaxed task=call-1 agent=
	// 09:00:30 reservation-created task=call-1 agent=ann
	// 09:00:30 agent ann is busy
	// 09:00:30 reservation-accepted task=call-1 agent=ann
	// 09:00:30 task-completed task=call-1 agent=ann
	// 09:00:30 wrap-up-ended task=call-1 agent=ann
	// 09:00:30 agent ann is available
	// answered=1 avg-speed-of-answer=30s
}
