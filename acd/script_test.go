package acd_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata/scripts")

// scriptConfigs are the configurations scripts name on their first line.
var scriptConfigs = map[string]acd.Config{
	"contact-center": {
		Skills: testSkills,
		Queues: []acd.QueueDef{
			{Name: "sales", Requirements: []string{"sales >= 6", "language == fr"}, RONATimeout: 15 * time.Second, RONAMisses: 2,
				WrapUp: 10 * time.Second, MaxWait: 5 * time.Minute, Overflow: "general",
				Relax: []acd.RelaxStep{{After: 30 * time.Second, Set: []string{"sales >= 3"}}, {After: time.Minute, Drop: []string{"language"}}}},
			{Name: "general", RONATimeout: 15 * time.Second, MaxWait: 2 * time.Minute},
			{Name: "web", Channels: []acd.Channel{acd.Chat, acd.Email}, Strategy: "least-occupied", RONATimeout: 30 * time.Second},
		},
		Agents: []acd.AgentDef{
			{ID: "amelie", Skills: map[string]string{"sales": "8", "language": "fr"}, Queues: []string{"sales", "general"},
				Capacity: map[acd.Channel]int{acd.Voice: 1, acd.Chat: 2}, NoChatDuringCall: true},
			{ID: "bruno", Skills: map[string]string{"sales": "4", "language": "fr"}, Queues: []string{"sales", "general", "web"},
				Capacity: map[acd.Channel]int{acd.Voice: 1, acd.Chat: 3, acd.Email: 2}},
			{ID: "carla", Skills: map[string]string{"sales": "9", "language": "de"}, Queues: []string{"sales", "general", "web"},
				Capacity: map[acd.Channel]int{acd.Voice: 1, acd.Chat: 1}},
		},
	},
}

// TestScripts runs testdata/scripts/*.txt: a config name, then blocks
// of one command, "----", and the events it produced (time since the
// start, kind, fields). Run with -rewrite to regenerate the output, then
// read the diff.
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/scripts/*.txt")
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runScript(t, file) })
	}
}

func runScript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(strings.TrimSpace(string(data)), "\n\n")
	head := strings.Fields(blocks[0])
	cfg, ok := scriptConfigs[head[len(head)-1]]
	if len(head) != 2 || head[0] != "config" || !ok {
		t.Fatalf("%s: first block must be `config <name>`", file)
	}
	h := start(t, cfg)
	res := map[string]acd.ReservationID{} // last reservation of each task
	out := []string{blocks[0]}
	for _, b := range blocks[1:] {
		lines := strings.Split(b, "\n")
		var comments []string
		for len(lines) > 0 && strings.HasPrefix(lines[0], "#") {
			comments = append(comments, lines[0])
			lines = lines[1:]
		}
		if len(lines) == 0 {
			out = append(out, strings.Join(comments, "\n"))
			continue
		}
		cmd := lines[0]
		h.rec.Take()
		if err := scriptCommand(h, cmd, res); err != nil {
			t.Fatalf("%s: %s: %v", file, cmd, err)
		}
		h.sync()
		evs := h.rec.Take()
		for _, ev := range evs {
			if ev.Kind == acd.EventReservationCreated {
				res[ev.Task] = ev.Reservation
			}
		}
		got := formatEvents(evs)
		if strings.HasPrefix(cmd, "stats ") || strings.HasPrefix(cmd, "agent ") {
			got = append(got, scriptShow(h, cmd))
		}
		var want []string
		if len(lines) > 1 && lines[1] == "----" {
			want = lines[2:]
		}
		if !*rewrite && strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: %s:\ngot:\n%s\nwant:\n%s", file, cmd, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		blk := append(comments, cmd, "----")
		out = append(out, strings.Join(append(blk, got...), "\n"))
	}
	if *rewrite {
		if err := os.WriteFile(file, []byte(strings.Join(out, "\n\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func scriptCommand(h *harness, cmd string, res map[string]acd.ReservationID) error {
	f := strings.Fields(cmd)
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	e := h.e
	switch f[0] {
	case "login":
		for _, a := range f[1:] {
			if err := e.AgentLogin(a); err != nil {
				return err
			}
		}
		return nil
	case "logout":
		return e.AgentLogout(arg(1))
	case "ready":
		return e.SetState(arg(1), acd.Available, "")
	case "not-ready":
		return e.SetState(arg(1), acd.NotReady, strings.Join(f[2:], " "))
	case "channels": // channels AGENT [voice,chat,...]
		var set acd.ChannelSet
		for _, n := range strings.Split(arg(2), ",") {
			if n == "" {
				continue
			}
			ch, err := acd.ParseChannel(n)
			if err != nil {
				return err
			}
			set |= acd.ChannelsOf(ch)
		}
		return e.SetChannels(arg(1), set)
	case "enqueue": // enqueue ID QUEUE [voice|chat|email|social] [prio=N] [requires COND; COND]
		task := acd.Task{ID: arg(1), Queue: arg(2)}
		rest := f[3:]
		for len(rest) > 0 {
			switch w := rest[0]; {
			case strings.HasPrefix(w, "prio="):
				n, err := strconv.Atoi(w[5:])
				if err != nil {
					return err
				}
				task.Priority = n
				rest = rest[1:]
			case w == "requires":
				for _, s := range strings.Split(strings.Join(rest[1:], " "), ";") {
					c, err := acd.ParseCondition(s)
					if err != nil {
						return err
					}
					task.Requirements = append(task.Requirements, c)
				}
				rest = nil
			default:
				ch, err := acd.ParseChannel(w)
				if err != nil {
					return err
				}
				task.Channel = ch
				rest = rest[1:]
			}
		}
		return e.Enqueue(task)
	case "accept", "reject":
		r, ok := res[arg(1)]
		if !ok {
			return fmt.Errorf("no reservation for %s", arg(1))
		}
		if f[0] == "accept" {
			return e.Accept(r)
		}
		return e.Reject(r)
	case "complete":
		return e.Complete(arg(1))
	case "end-wrap-up":
		return e.EndWrapUp(arg(1))
	case "cancel":
		return e.Cancel(arg(1))
	case "transfer":
		return e.Transfer(arg(1), arg(2))
	case "advance":
		d, err := time.ParseDuration(arg(1))
		if err != nil {
			return err
		}
		h.clk.Advance(d)
		return nil
	case "stats", "agent":
		return nil
	}
	return fmt.Errorf("unknown command %q", f[0])
}

func scriptShow(h *harness, cmd string) string {
	s := h.e.Snapshot()
	name := strings.Fields(cmd)[1]
	if strings.HasPrefix(cmd, "agent ") {
		a, ok := s.Agent(name)
		if !ok {
			return "no such agent"
		}
		line := fmt.Sprintf("agent %s state=%v reason=%q load=%v since=+%v", a.ID, a.State, a.Reason, a.Load, a.Since.Sub(t0))
		if a.Channels != acd.AllChannels {
			line += fmt.Sprintf(" channels=%q", a.Channels.String())
		}
		return line
	}
	q, ok := s.Queue(name)
	if !ok {
		return "no such queue"
	}
	return fmt.Sprintf("queue %s waiting=%d reserved=%d busy=%d longest=%v agents(avail/nr/busy/wrap/rona/off)=%d/%d/%d/%d/%d/%d entered=%d answered=%d abandoned=%d timed-out=%d overflowed=%d sl=%.2f asa=%v",
		q.Name, q.Waiting, q.Reserved, q.Busy, q.LongestWait, q.Agents[acd.Available], q.Agents[acd.NotReady], q.Agents[acd.Busy],
		q.Agents[acd.WrapUp], q.Agents[acd.RONA], q.Agents[acd.Offline], q.Entered, q.Answered, q.Abandoned, q.TimedOut, q.Overflowed,
		q.ServiceLevel, q.AvgSpeedOfAnswer)
}

func formatEvents(evs []acd.Event) []string {
	var out []string
	for _, ev := range evs {
		s := fmt.Sprintf("+%v %v", ev.Time.Sub(t0), ev.Kind)
		add := func(k, v string) {
			if v != "" {
				s += " " + k + "=" + v
			}
		}
		add("task", ev.Task)
		add("agent", ev.Agent)
		add("queue", ev.Queue)
		add("target", ev.Target)
		if ev.Kind == acd.EventTaskQueued || ev.Kind == acd.EventReservationCreated {
			add("channel", ev.Channel.String())
		}
		if ev.Kind == acd.EventAgentState {
			add("state", ev.State.String())
			add("reason", ev.Reason)
		}
		if ev.Kind == acd.EventTaskRelaxed {
			add("stage", strconv.Itoa(ev.Stage))
		}
		if ev.Kind == acd.EventTaskTimedOut {
			add("reason", ev.Reason)
		}
		if ev.Err != nil {
			add("command", ev.Command)
			add("err", ev.Err.Error())
		}
		out = append(out, s)
	}
	return out
}
