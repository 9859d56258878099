package ivr_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/ivr/internal/script"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/*.txt")

// A test file is a config and runs against it:
//
//	=== config
//	<YAML, validated by config.Parse>
//	=== texts                       (optional: Options.Texts, "lang prompt = text" a line)
//	=== run did=+15550103 channel=voice at=2026-11-23T10:00:00Z lang=fr agents=sales,support
//	<script: the contact's actions, see internal/script>
//	--- want
//	<transcript of the interaction, then the result>
//
// channel defaults to voice, at to Monday 2026-11-23 10:00 UTC, agents to every queue
// ("none" for no queue); maxquiet and maxsteps set the loop bounds.
type testFile struct {
	config string
	texts  map[[2]string]string
	runs   []*testRun
}

type testRun struct {
	args   string
	script string
	want   string
}

func parseTestFile(t *testing.T, data string) *testFile {
	tf := &testFile{texts: map[[2]string]string{}}
	var cur *testRun
	section, body := "", []string{}
	flush := func() {
		text := strings.Join(body, "\n")
		switch {
		case section == "config":
			tf.config = text
		case section == "texts":
			for _, l := range body {
				if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
					continue
				}
				k, v, ok := strings.Cut(l, "=")
				f := strings.Fields(k)
				if !ok || len(f) != 2 {
					t.Fatalf("texts: want \"lang prompt = text\", got %q", l)
				}
				tf.texts[[2]string{f[0], f[1]}] = strings.TrimSpace(v)
			}
		case section == "want" && cur != nil:
			cur.want = strings.TrimRight(text, "\n ") + "\n"
		case strings.HasPrefix(section, "run"):
			cur.script = text
		}
		body = body[:0]
	}
	for _, line := range strings.Split(data, "\n") {
		switch {
		case strings.HasPrefix(line, "=== "):
			flush()
			section = strings.TrimSpace(line[4:])
			if strings.HasPrefix(section, "run") {
				cur = &testRun{args: strings.TrimSpace(strings.TrimPrefix(section, "run"))}
				tf.runs = append(tf.runs, cur)
			}
		case line == "--- want":
			flush()
			section = "want"
		default:
			body = append(body, line)
		}
	}
	flush()
	return tf
}

func TestFlows(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			tf := parseTestFile(t, string(data))
			cfg, err := config.Parse(file, []byte(tf.config))
			if err != nil {
				t.Fatalf("config:\n%v", err)
			}
			var got []string
			for i, tr := range tf.runs {
				out := runScript(t, cfg, tf.texts, tr)
				got = append(got, out)
				if !*update && out != tr.want {
					t.Errorf("run %d (%s):\n--- got\n%s--- want\n%s", i+1, tr.args, out, tr.want)
				}
			}
			if *update {
				rewrite(t, file, string(data), got)
			}
		})
	}
}

// rewrite replaces the body of every "--- want" section with the output of the run.
func rewrite(t *testing.T, file, data string, got []string) {
	var b strings.Builder
	run, skipping := 0, false
	for _, line := range strings.Split(strings.TrimRight(data, "\n"), "\n") {
		if skipping && !strings.HasPrefix(line, "=== ") {
			continue
		}
		if skipping {
			b.WriteString("\n")
		}
		skipping = false
		b.WriteString(line + "\n")
		if line == "--- want" {
			b.WriteString(got[run])
			run++
			skipping = true
		}
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func runScript(t *testing.T, cfg *config.Config, texts map[[2]string]string, tr *testRun) string {
	t.Helper()
	args := map[string]string{"channel": "voice", "at": "2026-11-23T10:00:00Z", "agents": "all"}
	for _, f := range strings.Fields(tr.args) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("run argument %q: want key=value", f)
		}
		args[k] = v
	}
	at, err := time.Parse(time.RFC3339, args["at"])
	if err != nil {
		t.Fatalf("at: %v", err)
	}
	opts := ivr.Options{Now: func() time.Time { return at }}
	fmt.Sscan(args["maxquiet"], &opts.MaxQuiet)
	fmt.Sscan(args["maxsteps"], &opts.MaxSteps)
	if a := args["agents"]; a != "all" {
		staffed := map[string]bool{}
		for _, q := range strings.Split(a, ",") {
			staffed[q] = true
		}
		opts.Agents = ivr.AgentsFunc(func(q string) bool { return staffed[q] })
	}
	if len(texts) > 0 {
		opts.Texts = func(lang, name string) (string, bool) {
			s, ok := texts[[2]string{lang, name}]
			return s, ok
		}
	}
	flows, err := ivr.Compile(cfg, opts)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	evs, err := script.Parse(tr.script)
	if err != nil {
		t.Fatalf("script: %v", err)
	}
	in := script.New(args["channel"], evs)
	res, err := flows.Run(context.Background(), ivr.Contact{DID: args["did"], Language: args["lang"]}, in)
	return transcript(in, res, err)
}

func transcript(in *script.Interaction, res *ivr.Result, err error) string {
	var b strings.Builder
	for _, l := range in.Log {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "=> %s (%s) state=%s\n", res.Outcome, res.Reason, res.State)
	var path []string
	for _, s := range res.Path {
		p := s.Node
		if s.Input != "" {
			p += fmt.Sprintf(" %q", s.Input)
		}
		if s.Event != "" {
			p += ": " + s.Event
		}
		path = append(path, p)
	}
	if len(path) > 0 {
		b.WriteString("path: " + strings.Join(path, " | ") + "\n")
	}
	fields := []string{"lang=" + res.Language}
	if res.Priority != 0 {
		fields = append(fields, fmt.Sprintf("prio=%d", res.Priority))
	}
	if len(res.Requirements) > 0 {
		fields = append(fields, "req=["+res.Requirements.String()+"]")
	}
	if len(res.Vars) > 0 {
		fields = append(fields, "vars="+script.FormatVars(res.Vars))
	}
	for _, kv := range [][2]string{{"queue", res.Queue}, {"agent", res.Agent}, {"target", res.Target}} {
		if kv[1] != "" {
			fields = append(fields, kv[0]+"="+kv[1])
		}
	}
	if len(res.Recordings) > 0 {
		fields = append(fields, "recordings=["+strings.Join(res.Recordings, " ")+"]")
	}
	b.WriteString(strings.Join(fields, " ") + "\n")
	if err != nil {
		b.WriteString("error: " + err.Error() + "\n")
		if errors.Is(err, ivr.ErrLoop) {
			b.WriteString("error is ErrLoop\n")
		}
	}
	if n := len(in.Left()); n > 0 {
		fmt.Fprintf(&b, "script: %d actions not used\n", n)
	}
	return b.String()
}
