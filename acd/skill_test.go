package acd_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
)

func TestParseCondition(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    acd.Condition
		wantErr bool
	}{
		{in: "language == fr", want: acd.Condition{Skill: "language", Op: acd.OpEq, Value: "fr"}},
		{in: "sales>=6", want: acd.Condition{Skill: "sales", Op: acd.OpGe, Value: "6"}},
		{in: "  vip ", want: acd.Condition{Skill: "vip", Op: acd.OpTrue}},
		{in: "!trainee", want: acd.Condition{Skill: "trainee", Op: acd.OpFalse}},
		{in: "sales < 3", want: acd.Condition{Skill: "sales", Op: acd.OpLt, Value: "3"}},
		{in: "sales > 3", want: acd.Condition{Skill: "sales", Op: acd.OpGt, Value: "3"}},
		{in: "sales <= 3", want: acd.Condition{Skill: "sales", Op: acd.OpLe, Value: "3"}},
		{in: "team != 'north east'", want: acd.Condition{Skill: "team", Op: acd.OpNe, Value: "north east"}},
		{in: "tier in (gold, platinum)", want: acd.Condition{Skill: "tier", Op: acd.OpIn, Values: []string{"gold", "platinum"}}},
		{in: "tier in [gold]", want: acd.Condition{Skill: "tier", Op: acd.OpIn, Values: []string{"gold"}}},
		{in: "tier in gold,silver", want: acd.Condition{Skill: "tier", Op: acd.OpIn, Values: []string{"gold", "silver"}}},
		{in: "index >= 1", want: acd.Condition{Skill: "index", Op: acd.OpGe, Value: "1"}}, // "in" prefix is a name
		{in: "", wantErr: true},
		{in: "==", wantErr: true},
		{in: "sales >=", wantErr: true},
		{in: "sales = 6", wantErr: true},
		{in: "sales >= 6 7", wantErr: true},
		{in: "!vip == true", wantErr: true},
		{in: "tier in (gold", wantErr: true},
		{in: "tier in ()", wantErr: true},
		{in: "9lives", wantErr: true},
		{in: "team == 'open", wantErr: true},
	} {
		got, err := acd.ParseCondition(tc.in)
		if tc.wantErr {
			if !errors.Is(err, acd.ErrSyntax) {
				t.Errorf("%q: err %v, want ErrSyntax", tc.in, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if back, err := acd.ParseCondition(got.String()); err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("%q: String %q does not round-trip: %+v %v", tc.in, got.String(), back, err)
		}
	}
}

// New reports every violation, each wrapped with ErrBadConfig and the
// place it was found.
func TestConfigErrors(t *testing.T) {
	_, err := acd.New(acd.Config{
		Sink:   acd.SinkFunc(func(acd.Event) {}),
		Skills: append(testSkills, acd.SkillDef{Name: "sales", Type: acd.Boolean}),
		Queues: []acd.QueueDef{
			{Name: "q", Requirements: []string{"sales >= 11", "language == es", "nope", "team > x", "vip"}, Strategy: "random",
				Overflow: "missing", Relax: []acd.RelaxStep{{After: time.Minute}, {After: time.Second, Drop: []string{"ghost"}}}},
		},
		Agents: []acd.AgentDef{
			{ID: "a", Skills: map[string]string{"sales": "12", "language": "es", "vip": "maybe"}, Queues: []string{"zz"}},
			{ID: "a"},
		},
	})
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		`skills[4]: duplicate skill "sales"`,
		`requirements[0]`, `requirements[1]`, `requirements[2]`, `requirements[3]`,
		`unknown strategy "random"`, `relax[1]: after 1s`, `relax[1].drop[0]: skill "ghost"`,
		`overflow "missing"`,
		`agents[0] a: skill "language"`, `agents[0] a: skill "sales"`, `agents[0] a: skill "vip"`,
		`queue "zz"`, `agents[1] a: duplicate agent`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "requirements[4]") {
		t.Errorf("valid `vip` reported:\n%v", err)
	}
	if !errors.Is(err, acd.ErrBadConfig) {
		t.Errorf("not ErrBadConfig: %v", err)
	}
	ok := acd.Config{Skills: testSkills, Queues: []acd.QueueDef{{Name: "q", Requirements: []string{"vip"}}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	ok.Queues[0].Requirements = []string{"vip >= 1"}
	if err := ok.Validate(); !errors.Is(err, acd.ErrBadValue) || !strings.Contains(err.Error(), "queues[0] q: requirements[0]") {
		t.Errorf("Validate: %v", err)
	}
}

// Condition semantics per skill type, through routing: an agent is
// offered the task only if it satisfies every condition.
func TestConditionSemantics(t *testing.T) {
	agents := []acd.AgentDef{
		{ID: "none", Capacity: voice1(), Queues: []string{"q"}},
		{ID: "fr7vip", Skills: map[string]string{"language": "fr", "sales": "7", "vip": "yes", "team": "north"}, Capacity: voice1(), Queues: []string{"q"}},
		{ID: "de3", Skills: map[string]string{"language": "de", "sales": "3", "team": "south"}, Capacity: voice1(), Queues: []string{"q"}},
	}
	for _, tc := range []struct {
		cond string
		want []string // agents that match, in declaration order
	}{
		{"sales >= 3", []string{"fr7vip", "de3"}},
		{"sales > 3", []string{"fr7vip"}},
		{"sales < 7", []string{"de3"}},
		{"sales != 7", []string{"none", "de3"}}, // absent satisfies !=
		{"sales", []string{"fr7vip", "de3"}},
		{"!sales", []string{"none"}},
		{"vip", []string{"fr7vip"}},
		{"!vip", []string{"none", "de3"}},
		{"vip == false", []string{"none", "de3"}},
		{"language == fr", []string{"fr7vip"}},
		{"language in (en, de)", []string{"de3"}},
		{"language >= fr", []string{"fr7vip", "de3"}}, // enum order en < fr < de
		{"team == north", []string{"fr7vip"}},
		{"team == west", nil},
		{"team in (west, south)", []string{"de3"}},
		{"!team", []string{"none"}},
	} {
		t.Run(tc.cond, func(t *testing.T) {
			h := start(t, acd.Config{Skills: testSkills, Queues: []acd.QueueDef{{Name: "q"}}, Agents: agents})
			h.login("none", "fr7vip", "de3")
			var got []string
			for i := range 3 {
				id := string(rune('a' + i))
				h.enqueue(id, "q", 0, tc.cond)
				if a := h.offered(id); a != "" {
					got = append(got, a)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("matched %v, want %v", got, tc.want)
			}
		})
	}
	h := start(t, acd.Config{Skills: testSkills, Queues: []acd.QueueDef{{Name: "q"}}, Agents: agents})
	h.enqueue("bad", "q", 0, "language == es")
	if ev, _ := h.rec.Last(acd.EventCommandFailed, "bad"); !errors.Is(ev.Err, acd.ErrBadValue) {
		t.Fatalf("bad enum value: %+v", ev)
	}
}
