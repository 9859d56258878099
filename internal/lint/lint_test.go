// Package lint guards the dependency direction (README's architecture): cmd → the protocols
// (sip/voice, channels, web) → center (the contact center: the one ACD client, presence, call
// records) → ivr → acd, store, config. The SIP stack (sip and its edge packages: registrar,
// auth, validate, limit, route) and sip/anchor know media, the store and the config, never the
// center; center/crm and center/hook are leaves. A package may import only the ccswitch
// packages listed for it.
package lint

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/ccswitch/ccswitch"

// allowed lists, per package prefix, the ccswitch packages it may import (prefixes too).
// The most specific prefix wins. Test files are not checked.
var allowed = map[string][]string{
	"acd":     {"acd"},
	"media":   {"media"},
	"store":   {"store"},
	"configs": {},
	"config":  {"config", "configs", "acd"},
	"ivr":     {"ivr", "config", "acd"},
	"center":  {"center", "acd", "ivr", "config", "store"},
	// center/crm and center/hook are leaves of the core: they know the engine's events and
	// the config, never the protocols (sip, channels, web) that use them.
	"center/crm":  {"center/crm", "config"},
	"center/hook": {"center/hook", "acd", "config"},
	// The SIP stack knows media and the store, never the contact center: sip/voice is the
	// voice path between the B2BUA and the center. Its edge packages are leaves.
	"sip":       {"sip/sipgo", "sip/auth", "sip/registrar", "sip/validate", "sip/limit", "sip/route", "media", "config", "store"},
	"sip/route": {"sip/route"},
	// Our fork of github.com/emiago/sipgo v1.7.2 (sip/sipgo/README.md): a library, a leaf.
	"sip/sipgo":     {"sip/sipgo"},
	"sip/voice":     {"sip", "center", "ivr", "acd", "media", "config", "configs", "store"},
	"sip/anchor":    {"sip", "media", "config"},
	"sip/registrar": {"sip/sipgo", "sip/registrar", "store"},
	"sip/auth":      {"sip/sipgo", "sip/auth"},
	"sip/validate":  {"sip/sipgo", "sip/validate"},
	"sip/limit":     {"sip/limit", "config"},
	"channels":      {"channels", "center", "acd", "ivr", "config", "store"},
	"web":           {"web", "center", "channels", "acd", "ivr", "config", "store"},
	"bench":         {"bench", "acd", "media", "sip", "config", "store", "webphone"},
	"internal":      {"internal"},
	// A test phone's media, for tests of sip/voice and cmd: it measures what it hears with
	// media's Goertzel detector.
	"internal/tonephone": {"media"},
	"cmd":                {"sip", "sip/sipgo", "center", "media", "ivr", "acd", "channels", "web", "webphone", "config", "configs", "store"},
	// The browser phone is a SIP phone of ccswitch's (it speaks SIP to it): it knows the config.
	"webphone": {"webphone", "config", "sip/sipgo"},
}

func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		rule, ok := ruleFor(rel)
		if !ok {
			t.Errorf("%s: no dependency rule; add one to internal/lint", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, module+"/")
			if !permitted(dep, rule) {
				t.Errorf("%s imports %s, against the dependency direction (allowed: %v)", rel, dep, rule)
			}
		}
	}
}

func ruleFor(rel string) ([]string, bool) {
	best, found := "", false
	for prefix := range allowed {
		if (rel == prefix || strings.HasPrefix(rel, prefix+"/")) && len(prefix) >= len(best) {
			best, found = prefix, true
		}
	}
	return allowed[best], found
}

func permitted(dep string, rule []string) bool {
	for _, p := range rule {
		if dep == p || strings.HasPrefix(dep, p+"/") {
			return true
		}
	}
	// Every package may use the shared test and helper packages under internal/.
	return strings.HasPrefix(dep, "internal/")
}
