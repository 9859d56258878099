package config

import (
	"fmt"

	"github.com/ccswitch/ccswitch/acd"
)

// ACD translates the skills, profiles, queues and agents of a validated Config into the queue
// engine's definitions; the caller adds the clock, sink and logger. The engine validates its
// input again (acd.New), so an error here means a bug, not an operator mistake.
func (c *Config) ACD() (acd.Config, error) {
	var out acd.Config
	for _, s := range c.Skills {
		t, err := acd.ParseSkillType(s.Type)
		if err != nil {
			return out, fmt.Errorf("config: skill %s: %w", s.Name, err)
		}
		out.Skills = append(out.Skills, acd.SkillDef{Name: s.Name, Type: t, Values: s.Values})
	}
	for _, p := range c.Profiles {
		out.Profiles = append(out.Profiles, acd.ProfileDef{Name: p.Name, Skills: p.Skills})
	}
	for _, q := range c.Queues {
		qd := acd.QueueDef{
			Name:         q.Name,
			Requirements: q.Requirements,
			Strategy:     q.Strategy,
			WrapUp:       q.WrapUp.D(),
			RONATimeout:  q.RONATimeout.D(),
			RONAMisses:   q.RONAMisses,
			MaxWait:      q.MaxWait.D(),
			Overflow:     q.Overflow,
			ServiceLevel: q.ServiceLevel.D(),
		}
		for _, ch := range q.Channels {
			x, err := acd.ParseChannel(ch)
			if err != nil {
				return out, fmt.Errorf("config: queue %s: %w", q.Name, err)
			}
			qd.Channels = append(qd.Channels, x)
		}
		for _, r := range q.Relax {
			qd.Relax = append(qd.Relax, acd.RelaxStep{After: r.After.D(), Set: r.Set, Drop: r.Drop})
		}
		out.Queues = append(out.Queues, qd)
	}
	for _, a := range c.Agents {
		ad := acd.AgentDef{ID: a.ID, Name: a.Name, Skills: a.Skills, Profiles: a.Profiles,
			Queues: a.Queues, Capacity: map[acd.Channel]int{}, NoChatDuringCall: a.NoChatDuringCall}
		for ch, n := range a.Capacity {
			x, err := acd.ParseChannel(ch)
			if err != nil {
				return out, fmt.Errorf("config: agent %s: %w", a.ID, err)
			}
			ad.Capacity[x] = n
		}
		out.Agents = append(out.Agents, ad)
	}
	return out, nil
}
