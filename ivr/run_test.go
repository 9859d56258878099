package ivr_test

import (
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/ivr/internal/script"
)

// everything uses every node type, an escape, loops with and without input, and a number
// with a calendar.
const everything = `
queues: [{name: sales}, {name: support}, {name: ops}]
numbers:
  - did: "+15550500"
    flow: all
    timezone: Europe/Paris
    hours: [{days: mon-fri, open: ["09:00-17:00"]}]
    holidays: [{date: "12-25"}]
    unavailable: {en: closed, fr: ferme}
  - {did: "+15550501", flow: all}
flows:
  - name: all
    escape: {digit: "0", keyword: agent, queue: ops}
    nodes:
      - {id: when, type: hours, open: menu, closed: vm, holiday: bye}
      - id: menu
        type: menu
        prompt: menu
        retries: 1
        invalid: spin
        no_input: menu2
        choices:
          - {digits: "1", keywords: [sales], next: s}
          - {digits: "2", keywords: [support], next: acct}
          - {digits: "3", keywords: [french], next: fr}
          - {digits: "4", next: xfer}
          - {digits: "5", next: menu}
      - {id: menu2, type: play, prompt: again, next: menu}
      - {id: fr, type: set, language: fr, next: menu}
      - {id: s, type: set, priority: 2, requirements: [x], next: sq}
      - {id: sq, type: queue, queue: sales, overflow: vm, max_wait: 10s}
      - {id: acct, type: gather, var: a, max_digits: 3, retries: 2, next: suq}
      - {id: suq, type: queue, queue: support, next: menu}
      - {id: xfer, type: transfer, target: "1001"}
      - {id: vm, type: voicemail, next: bye}
      - {id: bye, type: hangup, prompt: goodbye}
      - {id: spin, type: set, vars: {k: v}, next: spin2}
      - {id: spin2, type: play, prompt: p, next: bye}
`

func compileString(t testing.TB, yaml string, opts ivr.Options) *ivr.Flows {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	f, err := ivr.Compile(cfg, opts)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return f
}

// FuzzRun feeds arbitrary scripts to a flow with every node type: the interpreter must never
// panic or spin, must not hang up a contact that left or was answered, and hangs up at most
// once.
func FuzzRun(f *testing.F) {
	f.Add("digits 1\nqueue answered 1001", uint8(0), uint8(0xff), int64(0))
	f.Add("text I want SALES\nqueue timeout\nrecord r", uint8(1), uint8(1), int64(3600*9))
	f.Add("digits 7\ndigits 8\n", uint8(0), uint8(0xff), int64(0))
	f.Add("timeout\ntimeout\ntimeout\nbargein 2\ndigits 12#\nqueue timeout\nhangup", uint8(0), uint8(2), int64(-3600*20))
	f.Add("text agent\n", uint8(2), uint8(0), int64(86400*32))
	f.Fuzz(func(t *testing.T, s string, channel, staffed uint8, shift int64) {
		at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC).Add(time.Duration(shift%(366*86400)) * time.Second)
		flows := compileString(t, everything, ivr.Options{
			Now:    func() time.Time { return at },
			Agents: ivr.AgentsFunc(func(q string) bool { return staffed&(1<<(len(q)%8)) != 0 }),
		})
		ch := []string{"voice", "chat", "sms"}[int(channel)%3]
		evs := script.ParseLenient(s)
		in := script.New(ch, evs)
		did := "+15550500"
		if channel&4 != 0 {
			did = "15550501"
		}
		res, err := flows.Run(context.Background(), ivr.Contact{DID: did}, in)
		if res == nil {
			t.Fatal("nil result")
		}
		if (err != nil) != (res.Outcome == ivr.OutcomeFailed) {
			t.Fatalf("err %v with outcome %v", err, res.Outcome)
		}
		if err != nil && !errors.Is(err, ivr.ErrLoop) {
			t.Fatalf("unexpected error %v", err)
		}
		hangups := 0
		for _, l := range in.Log {
			if l == "hangup" {
				hangups++
			}
		}
		switch {
		case hangups > 1:
			t.Fatalf("hung up %d times:\n%s", hangups, strings.Join(in.Log, "\n"))
		case hangups == 1 && (res.Outcome == ivr.OutcomeAbandoned || res.Outcome == ivr.OutcomeAnswered || res.Outcome == ivr.OutcomeTransferred):
			t.Fatalf("hung up a contact that is %v:\n%s", res.Outcome, strings.Join(in.Log, "\n"))
		case hangups == 0 && (res.Outcome == ivr.OutcomeHangup || res.Outcome == ivr.OutcomeUnavailable || res.Outcome == ivr.OutcomeFailed):
			t.Fatalf("outcome %v without hanging up:\n%s", res.Outcome, strings.Join(in.Log, "\n"))
		}
		if len(res.Path) > 1000 {
			t.Fatalf("%d steps", len(res.Path))
		}
	})
}

// failing is an Interaction whose channel breaks on the first prompt.
type failing struct {
	script.Interaction
	hangups int
}

var errBroken = errors.New("rtp socket closed")

func (f *failing) Play(context.Context, ivr.Prompt) (string, error) { return "", errBroken }
func (f *failing) Hangup(context.Context) error                     { f.hangups++; return nil }

func TestChannelFailure(t *testing.T) {
	flows := compileString(t, everything, ivr.Options{})
	in := &failing{Interaction: *script.New("voice", nil)}
	res, err := flows.Run(context.Background(), ivr.Contact{DID: "+15550501"}, in)
	if !errors.Is(err, errBroken) || res.Outcome != ivr.OutcomeFailed || in.hangups != 1 {
		t.Fatalf("err %v, outcome %v, %d hangups", err, res.Outcome, in.hangups)
	}
	if want := `ivr: flow "all" node "menu": rtp socket closed`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

// cancelled answers Collect with the context's error, as a channel does when the dialog ends.
type cancelled struct{ script.Interaction }

func (c *cancelled) Collect(ctx context.Context, _ ivr.CollectOptions) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}

func TestContextDone(t *testing.T) {
	flows := compileString(t, everything, ivr.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := &cancelled{*script.New("voice", nil)}
	res, err := flows.Run(ctx, ivr.Contact{DID: "+15550501"}, in)
	if err != nil || res.Outcome != ivr.OutcomeAbandoned {
		t.Fatalf("err %v, outcome %v", err, res.Outcome)
	}
	for _, l := range in.Log {
		if l == "hangup" {
			t.Errorf("hung up a contact that left")
		}
	}
}

// TestConcurrentRuns runs one compiled Flows from many goroutines (under -race) and checks
// that runs do not share state: each contact's variables and requirements are its own.
func TestConcurrentRuns(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	flows := compileString(t, everything, ivr.Options{Now: func() time.Time { return at }})
	var wg sync.WaitGroup
	results := make([]*ivr.Result, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evs, _ := script.Parse("digits 1\nqueue answered " + strconv.Itoa(i))
			in := script.New("voice", evs)
			res, err := flows.Run(context.Background(), ivr.Contact{DID: "+15550500", Vars: map[string]string{"n": strconv.Itoa(i)}}, in)
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Agent != strconv.Itoa(i) || r.Vars["n"] != strconv.Itoa(i) || len(r.Requirements) != 1 || r.Priority != 2 {
			t.Errorf("run %d: %+v", i, r)
		}
		if len(r.Path) == 0 || !r.Path[0].At.Equal(at) {
			t.Errorf("run %d: steps not stamped with the injected clock: %+v", i, r.Path)
		}
	}
}

// TestCompileOddInput: a config that did not go through validation makes Compile report
// every problem, not panic.
func TestCompileOddInput(t *testing.T) {
	cfg := &config.Config{
		Flows: []config.Flow{
			{Name: "empty"},
			{Name: "bad", Start: "nowhere", Nodes: []config.Node{
				{ID: "a", Type: "play", Next: "b"},
				{ID: "c", Type: "dance"},
				{ID: "m", Type: "menu", Choices: []config.Choice{{Digits: "1", Next: "zz"}}},
			}},
		},
		Numbers: []config.Number{
			{DID: "1", Flow: "missing"},
			{DID: "2", Flow: "bad", Schedule: config.Schedule{Timezone: "Mars/Olympus"}},
		},
	}
	_, err := ivr.Compile(cfg, ivr.Options{})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"flows[0] (empty): no nodes", `nodes[0].next: unknown node "b"`, `nodes[1].type: unknown node type "dance"`,
		`nodes[2].choices[0].next: unknown node "zz"`, `(bad): start: unknown node "nowhere"`,
		`numbers[0] (1): unknown flow "missing"`, `numbers[1] (2): calendar: timezone: unknown time zone "Mars/Olympus"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestForbiddenImports keeps ivr channel-agnostic (invariant 1): of ccswitch, it imports
// config, acd (for Condition) and itself only; sip, media and channels implement its
// interfaces instead.
func TestForbiddenImports(t *testing.T) {
	const mod = "github.com/ccswitch/ccswitch/"
	allowed := []string{mod + "config", mod + "acd", mod + "ivr"}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, mod) {
				continue
			}
			ok := false
			for _, a := range allowed {
				ok = ok || p == a || strings.HasPrefix(p, a+"/")
			}
			if !ok {
				t.Errorf("%s imports %s", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOutcomeStrings(t *testing.T) {
	for o := ivr.OutcomeHangup; o <= ivr.OutcomeFailed; o++ {
		if s := o.String(); s == "" || strings.HasPrefix(s, "outcome(") {
			t.Errorf("outcome %d has no name", o)
		}
	}
	if s := fmt.Sprint(ivr.Outcome(99)); s != "outcome(99)" {
		t.Errorf("got %q", s)
	}
}

// TestREADMEExamples keeps the operators' README honest: its YAML examples, with the queues
// they name, pass config validation and compile.
func TestREADMEExamples(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	yaml := "queues: [{name: sales}, {name: support}, {name: operators}]\n" +
		"users: [{extension: \"1001\", secret: s}]\n"
	blocks := 0
	for _, part := range strings.Split(string(data), "```yaml\n")[1:] {
		body, _, _ := strings.Cut(part, "```")
		yaml += body
		blocks++
	}
	if blocks != 2 {
		t.Fatalf("%d yaml blocks in README, want 2", blocks)
	}
	f := compileString(t, yaml, ivr.Options{})
	if _, ok := f.Entry("33100000002"); !ok {
		t.Error("README number missing")
	}
}

// hangupFails is an Interaction whose Hangup fails (a BYE that cannot be sent).
type hangupFails struct {
	script.Interaction
	hangups int
}

func (h *hangupFails) Hangup(context.Context) error { h.hangups++; return errBroken }

// TestHangupOnce: even when Hangup fails, ivr calls it once (invariant 3) and reports it.
func TestHangupOnce(t *testing.T) {
	nobody := ivr.AgentsFunc(func(string) bool { return false })
	for _, tc := range []struct {
		script string
		agents ivr.Agents
	}{
		{"digits 7\ndigits 7", nil},                // invalid twice: set, play, goodbye
		{"digits 1\nqueue timeout\nrecord r", nil}, // voicemail, then the hangup node
		{"digits 2\ndigits 123", nobody},           // nobody in support: the unavailability prompt
	} {
		flows := compileString(t, everything, ivr.Options{Agents: tc.agents})
		evs, _ := script.Parse(tc.script)
		in := &hangupFails{Interaction: *script.New("voice", evs)}
		res, err := flows.Run(context.Background(), ivr.Contact{DID: "+15550501"}, in)
		if in.hangups != 1 || !errors.Is(err, errBroken) && !errors.Is(err, ivr.ErrLoop) || res.Outcome != ivr.OutcomeFailed {
			t.Errorf("%q: %d hangups, err %v, outcome %v", tc.script, in.hangups, err, res.Outcome)
		}
	}
}
