package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	ccconfig "github.com/ccswitch/ccswitch/config"
)

// TestBenchConfigLoads generates every bench config from the repository's own
// configs/ccswitch.yaml — the comparison's (registration users, the generator's exemption, each
// media mode), -e2e's (agents' phones, queues, flow, DID, desks, WhatsApp) and -soak's — and
// loads it with ccswitch's config package, so a config change on main that the bench no longer
// fits fails here rather than in a 15-minute run.
func TestBenchConfigLoads(t *testing.T) {
	users := makeUsers(50)
	desks, err := makeDeskAgents(2, "desk")
	if err != nil {
		t.Fatal(err)
	}
	phones := e2eUsers(3)
	for _, c := range []struct {
		name   string
		cfg    config
		users  []regUser
		extra  map[string]string
		checks func(t *testing.T, c *ccconfig.Config)
	}{
		{"comparison, passthrough", config{media: "passthrough", regPort: 5086}, users, nil, func(t *testing.T, c *ccconfig.Config) {
			if got := c.Trunks[0].Media; got != "passthrough" {
				t.Errorf("carrier media %q", got)
			}
		}},
		{"comparison, anchored, wider RTP range", config{media: "anchor", rtpPorts: "20000-29999", regPort: 5086}, users, nil, func(t *testing.T, c *ccconfig.Config) {
			if c.Media.RTPPorts != "20000-29999" {
				t.Errorf("rtp_ports %q", c.Media.RTPPorts)
			}
		}},
		{"e2e", config{media: "anchor", regPort: 5086}, nil, map[string]string{
			"20-e2e-voice.yaml": voiceConfig(phones),
			"21-e2e-text.yaml":  textConfig(desks, "s3cret"),
		}, func(t *testing.T, c *ccconfig.Config) {
			if c.Channels.WhatsApp == nil || c.Channels.WhatsApp.Queue != "bench-text" {
				t.Errorf("whatsapp %+v", c.Channels.WhatsApp)
			}
			auto := 0
			for _, a := range c.Agents {
				if a.AutoLogin {
					auto++
				}
			}
			if auto < len(phones) {
				t.Errorf("%d auto_login agents, want ≥ %d", auto, len(phones))
			}
		}},
		{"soak", config{media: "anchor", regPort: 5086}, users, map[string]string{"21-soak-text.yaml": textConfig(desks, "s3cret")}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.repo = filepath.Join("..", "..")
			dir, err := benchConfig(t.Context(), c.cfg, t.TempDir(), c.users, c.extra)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ccconfig.Load(dir)
			if err != nil {
				t.Fatalf("ccswitch refuses the bench config: %v", err)
			}
			exts := map[string]ccconfig.User{}
			for _, u := range got.Users {
				exts[u.Extension] = u
			}
			for _, u := range c.users {
				if exts[u.name].Secret != u.password {
					t.Errorf("user %s missing or with another secret", u.name)
				}
			}
			// The generator's exemption: a static contact at its port, no call limit.
			if u, ok := exts[regSourceExtension]; !ok || !strings.HasSuffix(u.Contact, "@127.0.0.1:5086") {
				t.Errorf("exemption user: %+v", u)
			}
			if fi, err := os.Stat(got.Media.Prompts); err != nil || !fi.IsDir() {
				t.Errorf("media.prompts %q is not the tree's prompt folder: %v", got.Media.Prompts, err)
			}
			if c.checks != nil {
				c.checks(t, got)
			}
		})
	}
}
