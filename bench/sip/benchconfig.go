package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The ccswitch config of the bench is a folder (ccswitch reads a folder's files in name
// order; lists add up, sections merge):
//
//	00-ccswitch.yaml  configs/ccswitch.yaml of the tree under test, with its RTP port range
//	                  replaced (-rtp-ports) and the carrier trunk set to media passthrough
//	                  (-media passthrough) when asked
//	10-bench.yaml     the tree's prompt folder (absolute: the demo's default is relative to the
//	                  config's folder), the registration users (-reg-users, each with its own password) and one
//	                  static-contact user whose only purpose is to exempt the registration
//	                  generator's source address from sip.limits.source_rate (see regSource)
//	2x-*.yaml         what a mode adds (e2e: agents, queues, a flow, WhatsApp)
//
// Nothing else changes: every default of the tree under test, the abuse limits included, is
// what runs.

// rtpPortsLine is the media port range line of configs/ccswitch.yaml.
var rtpPortsLine = regexp.MustCompile(`(?m)^(\s*rtp_ports:\s*)\S+`)

// carrierOutbound is the demo carrier trunk's outbound line, after which -media passthrough
// adds the trunk's media setting.
var carrierOutbound = regexp.MustCompile(`(?m)^(\s*)outbound: sip:127\.0\.0\.1:5080[ \t]*$`)

// regSourceExtension is the static-contact user of 10-bench.yaml that exempts the
// registration generator (one SIPp, one source address and port) from the per-source message
// limit: ccswitch exempts the host and port of every static contact. 10,000 real phones come
// from 10,000 addresses and each stays far below the limit; one generator sending them all
// would be blocked at 200 messages/s, which measures the limit, not the registrar.
const regSourceExtension = "bench-reg-source"

// demoConfig returns configs/ccswitch.yaml of the tree under test with the bench's edits.
func demoConfig(ctx context.Context, cfg config) ([]byte, error) {
	repo, err := moduleRoot(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return demoConfigIn(repo, cfg)
}

func demoConfigIn(repo string, cfg config) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(repo, "configs", "ccswitch.yaml"))
	if err != nil {
		return nil, fmt.Errorf("bench config: %w", err)
	}
	return editDemo(b, cfg.rtpPorts, cfg.media)
}

// editDemo replaces the RTP port range (if ports is set) and sets the carrier trunk to media
// passthrough (if media says so).
func editDemo(b []byte, ports, media string) ([]byte, error) {
	if ports != "" {
		if !rtpPortsLine.Match(b) {
			return nil, errors.New("-rtp-ports: configs/ccswitch.yaml has no rtp_ports line to replace")
		}
		b = rtpPortsLine.ReplaceAll(b, []byte("${1}"+ports))
	}
	if media == "passthrough" {
		if !carrierOutbound.Match(b) {
			return nil, errors.New("-media: configs/ccswitch.yaml has no carrier outbound line to follow")
		}
		b = carrierOutbound.ReplaceAll(b, []byte("${0}\n${1}media: passthrough"))
	}
	return b, nil
}

// usersYAML is 10-bench.yaml: the prompts of the tree under test (the demo's relative default
// would point into the temporary folder), the registration users and the generator's exemption.
func usersYAML(users []regUser, regPort int, prompts string) string {
	var w strings.Builder
	fmt.Fprintf(&w, "# Written by bench/sip.\nmedia:\n  prompts: %q\n", prompts)
	w.WriteString("# The registration benchmark's users (digest, one password each).\nusers:\n")
	for _, u := range users {
		fmt.Fprintf(&w, "  - {extension: %q, secret: %q}\n", u.name, u.password)
	}
	fmt.Fprintf(&w, "  # Not a phone: its static contact exempts the registration generator 127.0.0.1:%d from\n"+
		"  # sip.limits.source_rate (one SIPp stands for %d phones at as many addresses).\n"+
		"  - {extension: %q, name: bench registration generator, contact: \"sip:%s@127.0.0.1:%d\", max_calls: 0}\n",
		regPort, len(users), regSourceExtension, regSourceExtension, regPort)
	return w.String()
}

// benchConfig writes the bench config folder under tmp and returns its path. extra maps more
// file names (sorted after 10-bench.yaml) to their content.
func benchConfig(ctx context.Context, cfg config, tmp string, users []regUser, extra map[string]string) (string, error) {
	repo, err := moduleRoot(ctx, cfg)
	if err == nil {
		repo, err = filepath.Abs(repo)
	}
	if err != nil {
		return "", err
	}
	demo, err := demoConfigIn(repo, cfg)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(tmp, "ccswitch-config")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	files := map[string]string{"00-ccswitch.yaml": string(demo), "10-bench.yaml": usersYAML(users, cfg.regPort, filepath.Join(repo, "configs", "prompts"))}
	for k, v := range extra {
		files[k] = v
	}
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(files[k]), 0o600); err != nil {
			return "", err
		}
	}
	return dir, nil
}
