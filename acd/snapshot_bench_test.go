package acd

import (
	"fmt"
	"testing"
)

// BenchmarkPublish measures one snapshot publication at 10,000 agents
// and 50 queues, with 10 agents changed since the previous one
// (incremental) or after Apply (full rebuild).
func BenchmarkPublish(b *testing.B) {
	var cfg Config
	for i := range 50 {
		cfg.Skills = append(cfg.Skills, SkillDef{Name: fmt.Sprintf("s%d", i), Type: Proficiency})
		cfg.Queues = append(cfg.Queues, QueueDef{Name: fmt.Sprintf("q%d", i)})
	}
	for a := range 10000 {
		cfg.Agents = append(cfg.Agents, AgentDef{ID: fmt.Sprintf("a%d", a), Skills: map[string]string{fmt.Sprintf("s%d", a%50): "5"},
			Queues: []string{fmt.Sprintf("q%d", a%50), fmt.Sprintf("q%d", (a+7)%50), fmt.Sprintf("q%d", (a+13)%50)}, Capacity: map[Channel]int{Voice: 1}})
	}
	cfg.Sink = SinkFunc(func(Event) {})
	e, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, full := range []bool{false, true} {
		b.Run(fmt.Sprintf("full=%v", full), func(b *testing.B) {
			b.ReportAllocs()
			for i := range b.N {
				for j := range 10 {
					e.touch(e.agents[(i*10+j)%len(e.agents)])
				}
				e.snapFull = full
				e.publish()
			}
		})
	}
}
