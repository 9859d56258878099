package config

import (
	"strings"
	"testing"
	"time"
)

// sip.drain_timeout: default 2m, 0 kept (stop at once), a value kept, negative refused with
// its position.
func TestDrainTimeout(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want time.Duration
		err  string
	}{
		{"", DefaultDrainTimeout, ""},
		{"sip:\n  drain_timeout: 0s\n", 0, ""},
		{"sip:\n  drain_timeout: 45s\n", 45 * time.Second, ""},
		{"sip:\n  drain_timeout: -1s\n", 0, `c.yaml:2:18: sip.drain_timeout: want a duration such as 30s or 5m, got "-1s"`},
		{"sip:\n  drain_timeout: soon\n", 0, `c.yaml:2:18: sip.drain_timeout: want a duration`},
	} {
		c, err := parse("c.yaml", []byte(tc.yaml), env(nil))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %s", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if got := c.SIP.Drain(); got != tc.want {
			t.Errorf("%q: drain %v, want %v", tc.yaml, got, tc.want)
		}
	}
}

// A Config built by hand with a negative drain timeout is refused by Validate too.
func TestDrainTimeoutNegativeByHand(t *testing.T) {
	c, err := parse("c.yaml", nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	d := Duration(-time.Second)
	c.SIP.DrainTimeout = &d
	v := &validator{c: c, errs: &errorList{file: "c.yaml"}}
	v.drain()
	if len(v.errs.errs) != 1 || !strings.Contains(v.errs.errs[0].Error(), "sip.drain_timeout: want 0 (stop at once) or a positive duration, got -1s") {
		t.Fatalf("errors %v", v.errs.errs)
	}
}
