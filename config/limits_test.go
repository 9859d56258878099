package config

import (
	"testing"
)

// limitErrorCases are TestErrors' entries for sip.limits, sip.emergency and the limit fields
// of users and trunks.
var limitErrorCases = []struct {
	name, yaml string
	want       []string
}{
	{"negative limits", "sip:\n  limits:\n    source_rate: -1\n    max_calls: -2\n    call_rate: -0.5\n    daily_minutes: 1441\n    timezone: Mars/Base\n",
		[]string{`c.yaml:3:18: sip.limits.source_rate: want 0 (off) or more messages per second, got -1`,
			`c.yaml:4:16: sip.limits.max_calls: want 0 (no limit) or more, got -2`,
			`c.yaml:5:16: sip.limits.call_rate: want 0 (no limit) or more calls per second, got -0.5`,
			`c.yaml:6:20: sip.limits.daily_minutes: want 0 (no cap) to 1440 minutes, got 1441`,
			`c.yaml:7:15: sip.limits.timezone: unknown time zone "Mars/Base"`}},
	{"classes and user limits", `sip:
  limits:
    classes:
      - {name: intl, allow: ["+44", "0044x"], deny: [premium]}
      - {name: intl}
users:
  - {extension: "1001", secret: a, class: nosuch, max_calls: -1, deny: ["+"]}
trunks:
  - {name: t, sources: ["192.0.2.1"], max_calls: -3}
`, []string{`c.yaml:4:37: sip.limits.classes[0].allow[1]: want a number prefix: digits with an optional leading +, got "0044x"`,
		`c.yaml:4:54: sip.limits.classes[0].deny[0]: want a number prefix`,
		`c.yaml:5:16: sip.limits.classes[1].name: duplicate class "intl"`,
		`c.yaml:7:43: users[0].class: unknown class "nosuch"`,
		`c.yaml:7:62: users[0].max_calls: want 0 (no limit) or more, got -1`,
		`c.yaml:7:73: users[0].deny[0]: want a number prefix`,
		`c.yaml:9:50: trunks[0].max_calls: want 0 (no limit) or more, got -3`}},
	{"emergency numbers", `sip:
  emergency: ["112", "112", "9x1", "1001", "15550100"]
  emergency_trunk: nosuch
users:
  - {extension: "1001", secret: a}
numbers:
  - {did: "+15550100", target: "1001"}
`, []string{`c.yaml:2:22: sip.emergency[1]: duplicate emergency number "112"`,
		`c.yaml:2:29: sip.emergency[2]: want an emergency number of 2 to 8 digits such as 112 or 911, got "9x1"`,
		`c.yaml:2:36: sip.emergency[3]: "1001" is also an extension`,
		`c.yaml:2:44: sip.emergency[4]: "15550100" is also one of our numbers`,
		`c.yaml:3:20: sip.emergency_trunk: unknown trunk "nosuch"`}},
	{"emergency trunk without outbound", "sip:\n  emergency_trunk: in\ntrunks:\n  - {name: in, sources: [\"192.0.2.1\"]}\n",
		[]string{`c.yaml:2:20: sip.emergency_trunk: trunk "in" has no outbound destination`}},
}

func TestLimitDefaults(t *testing.T) {
	c, err := parse("c.yaml", []byte("users:\n  - {extension: \"1001\", secret: a}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	l := c.SIP.Limits
	if *l.SourceRate != DefaultSourceRate || l.SourceBurst != 5*DefaultSourceRate || *l.MaxCalls != DefaultMaxCalls ||
		*l.CallRate != DefaultCallRate || l.CallBurst != DefaultCallBurst || l.DailyMinutes != 0 || l.Timezone != "UTC" {
		t.Errorf("limit defaults = rate %v burst %d max_calls %d call_rate %v call_burst %d daily %d tz %q",
			*l.SourceRate, l.SourceBurst, *l.MaxCalls, *l.CallRate, l.CallBurst, l.DailyMinutes, l.Timezone)
	}
	if len(c.SIP.Emergency) != 2 || c.SIP.Emergency[0] != "112" || c.SIP.Emergency[1] != "911" {
		t.Errorf("emergency default = %v", c.SIP.Emergency)
	}
	// 0 is a setting, not "unset": the limit is off.
	c, err = parse("c.yaml", []byte("sip:\n  limits: {source_rate: 0, max_calls: 0, call_rate: 0}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if l := c.SIP.Limits; *l.SourceRate != 0 || *l.MaxCalls != 0 || *l.CallRate != 0 {
		t.Errorf("explicit zeros replaced by defaults: %v %v %v", *l.SourceRate, *l.MaxCalls, *l.CallRate)
	}
}
