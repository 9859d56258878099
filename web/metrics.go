package web

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/ccswitch/ccswitch/acd"
)

// metrics writes the engine's snapshot in the Prometheus text format.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var b strings.Builder
	if s.opts.Engine != nil {
		snap := s.opts.Engine.Snapshot()
		gauge := func(name, help string) {
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		}
		counter := func(name, help string) {
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name)
		}
		gauge("ccswitch_queue_waiting", "Tasks waiting in the queue, not offered.")
		for _, q := range snap.Queues {
			fmt.Fprintf(&b, "ccswitch_queue_waiting{queue=%q} %d\n", q.Name, q.Waiting)
		}
		gauge("ccswitch_queue_longest_wait_seconds", "Wait of the oldest task waiting or offered.")
		for _, q := range snap.Queues {
			fmt.Fprintf(&b, "ccswitch_queue_longest_wait_seconds{queue=%q} %g\n", q.Name, q.LongestWait.Seconds())
		}
		gauge("ccswitch_queue_service_level", "Answered within the service level over answered, abandoned and timed out.")
		for _, q := range snap.Queues {
			fmt.Fprintf(&b, "ccswitch_queue_service_level{queue=%q} %g\n", q.Name, q.ServiceLevel)
		}
		for _, c := range []struct {
			name, help string
			get        func(acd.QueueStats) int64
		}{
			{"ccswitch_queue_entered_total", "Tasks that entered the queue.", func(q acd.QueueStats) int64 { return q.Entered }},
			{"ccswitch_queue_answered_total", "Reservations accepted.", func(q acd.QueueStats) int64 { return q.Answered }},
			{"ccswitch_queue_abandoned_total", "Tasks cancelled before acceptance.", func(q acd.QueueStats) int64 { return q.Abandoned }},
			{"ccswitch_queue_rona_total", "Reservations not answered in time.", func(q acd.QueueStats) int64 { return q.RONA }},
		} {
			counter(c.name, c.help)
			for _, q := range snap.Queues {
				fmt.Fprintf(&b, "%s{queue=%q} %d\n", c.name, q.Name, c.get(q))
			}
		}
		gauge("ccswitch_agents", "Agents by state.")
		counts := map[string]int{}
		for _, a := range snap.Agents {
			counts[a.State.String()]++
		}
		for st := acd.AgentState(0); st < acd.NumAgentStates; st++ {
			fmt.Fprintf(&b, "ccswitch_agents{state=%q} %d\n", st.String(), counts[st.String()])
		}
	}
	stats := s.svc.Stats()
	names := slices.Sorted(maps.Keys(stats))
	b.WriteString("# HELP ccswitch_messages_in_total Customer messages stored, by adapter.\n# TYPE ccswitch_messages_in_total counter\n")
	for _, n := range names {
		fmt.Fprintf(&b, "ccswitch_messages_in_total{adapter=%q} %d\n", n, stats[n].In)
	}
	b.WriteString("# HELP ccswitch_messages_duplicate_total Provider retries of a message already stored, by adapter.\n# TYPE ccswitch_messages_duplicate_total counter\n")
	for _, n := range names {
		fmt.Fprintf(&b, "ccswitch_messages_duplicate_total{adapter=%q} %d\n", n, stats[n].Duplicates)
	}
	b.WriteString("# HELP ccswitch_messages_out_total Replies and flow messages handed to the provider, by adapter and result.\n# TYPE ccswitch_messages_out_total counter\n")
	for _, n := range names {
		fmt.Fprintf(&b, "ccswitch_messages_out_total{adapter=%q,result=\"sent\"} %d\n", n, stats[n].Sent)
		fmt.Fprintf(&b, "ccswitch_messages_out_total{adapter=%q,result=\"failed\"} %d\n", n, stats[n].Failed)
	}
	s.mu.Lock()
	n := len(s.sessions)
	s.mu.Unlock()
	fmt.Fprintf(&b, "# HELP ccswitch_desktop_sessions Live agent desktop sessions.\n# TYPE ccswitch_desktop_sessions gauge\nccswitch_desktop_sessions %d\n", n)
	w.Write([]byte(b.String()))
}
