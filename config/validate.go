package config

import (
	"fmt"
	"github.com/ccswitch/ccswitch/acd"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// validator reports problems by field path; the position comes from where the path (or its
// nearest written parent) was decoded.
type validator struct {
	c    *Config
	errs *errorList
}

func (v *validator) failAt(path, format string, args ...any) {
	p, ok := v.c.Sources[path]
	for q := path; !ok && q != ""; {
		q = parentPath(q)
		p, ok = v.c.Sources[q]
		if q == "" {
			break
		}
	}
	v.errs.errs = append(v.errs.errs, &Error{Pos: p, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// uniqueName checks that name is a well-formed name of its kind and not already in seen, then
// adds it.
func (v *validator) uniqueName(path, kind, name string, seen map[string]bool) {
	switch {
	case !nameRE.MatchString(name):
		v.failAt(path, "want a name of letters, digits, _ . -, got %q", name)
	case seen[name]:
		v.failAt(path, "duplicate %s %q", kind, name)
	}
	seen[name] = true
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

var (
	extensionRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z_.\-]{0,31}$`)
	didRE       = regexp.MustCompile(`^\+?[0-9*#]{1,32}$`)
	nameRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$`)
	skillNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
)

// Channels are the ACD channels a queue or an agent's capacity may name.
var Channels = []string{"voice", "chat", "email", "social"}

// Strategies are the queue ordering strategies.
var Strategies = []string{"longest-idle", "most-skilled", "round-robin", "least-occupied"}

// NodeTypes are the flow node types.
var NodeTypes = []string{"play", "menu", "gather", "set", "hours", "queue", "transfer", "voicemail", "hangup"}

// NormalizeDID strips the leading "+": DIDs match with or without it.
func NormalizeDID(s string) string { return strings.TrimPrefix(s, "+") }

func (c *Config) validate(errs *errorList) {
	v := &validator{c: c, errs: errs}
	v.sip()
	v.tls()
	v.media()
	v.webrtc()
	if _, err := netip.ParseAddrPort(c.HTTP.Listen); err != nil {
		v.failAt("http.listen", "want host:port such as 127.0.0.1:8080, got %q", c.HTTP.Listen)
	}
	v.httpSecurity()
	exts := v.users()
	v.trunks()
	skills := v.skills()
	profiles := v.profiles(skills)
	queues := v.queues(skills)
	flows := v.flows(queues)
	v.numbers(exts, flows)
	v.agents(exts, skills, profiles, queues)
	v.channels(queues)
	v.wallboard()
	v.integrations()
	v.callback()
	v.limits(exts)
}

func (v *validator) profiles(skills map[string]Skill) map[string]bool {
	names := map[string]bool{}
	for i, p := range v.c.Profiles {
		pp := fmt.Sprintf("profiles[%d]", i)
		v.uniqueName(pp+".name", "profile", p.Name, names)
		v.skillValues(pp, p.Skills, skills)
	}
	return names
}

func (v *validator) skillValues(p string, vals map[string]string, skills map[string]Skill) {
	for name, val := range vals {
		sk, ok := skills[name]
		if !ok {
			v.failAt(p+".skills."+name, "unknown skill %q", name)
			continue
		}
		if err := checkSkillValue(sk, val); err != nil {
			v.failAt(p+".skills."+name, "%v", err)
		}
	}
}

func (v *validator) sip() {
	s := v.c.SIP
	for name, list := range map[string][]string{"udp": s.UDP, "tcp": s.TCP} {
		for i, a := range list {
			if _, _, err := net.SplitHostPort(a); err != nil {
				v.failAt(fmt.Sprintf("sip.%s[%d]", name, i), "want host:port such as 127.0.0.1:5060, got %q", a)
			}
		}
	}
	if s.MinExpires > s.MaxExpires {
		v.failAt("sip.min_expires", "min_expires %s is above max_expires %s", s.MinExpires.D(), s.MaxExpires.D())
	}
	if s.MinSE < Duration(90*time.Second) {
		v.failAt("sip.min_se", "want at least 90s (RFC 4028), got %s", s.MinSE.D())
	}
	if s.SessionExpires < s.MinSE {
		v.failAt("sip.session_expires", "session_expires %s is below min_se %s", s.SessionExpires.D(), s.MinSE.D())
	}
	for i, a := range s.DigestAlgorithms {
		if a != "SHA-256" && a != "MD5" {
			v.failAt(fmt.Sprintf("sip.digest_algorithms[%d]", i), "want SHA-256 or MD5, got %q", a)
		}
	}
	if strings.ContainsAny(s.Realm, "\"\r\n") {
		v.failAt("sip.realm", "realm may not contain quotes or line breaks")
	}
	v.sipEdge()
	v.sipDNS()
	v.drain()
}

// PortRange parses "20000-20999".
func PortRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || lo < 1024 || hi > 65535 || hi-lo < 3 {
		return 0, 0, fmt.Errorf("want a port range such as 20000-20999 within 1024-65535, got %q", s)
	}
	return lo, hi, nil
}

func (v *validator) media() {
	m := v.c.Media
	ip, err := netip.ParseAddr(m.IP)
	if err != nil {
		v.failAt("media.ip", "want an IP address, got %q", m.IP)
	}
	if _, _, err := PortRange(m.RTPPorts); err != nil {
		v.failAt("media.rtp_ports", "%v", err)
	}
	if m.PublicIP == "" {
		if err == nil && ip.IsUnspecified() {
			v.failAt("media.ip", "%s binds every interface: set media.public_ip, the address peers send RTP to", m.IP)
		}
		return
	}
	pub, perr := netip.ParseAddr(m.PublicIP)
	switch {
	case perr != nil || pub.Zone() != "":
		v.failAt("media.public_ip", "want an IP address, got %q", m.PublicIP)
	case pub.IsUnspecified() || pub.IsMulticast():
		v.failAt("media.public_ip", "want a unicast address peers can reach, got %s", m.PublicIP)
	case err == nil && ip.Is4() != pub.Is4() && !(ip.IsUnspecified() && ip.Is6()):
		v.failAt("media.public_ip", "%s and media.ip %s are not the same address family", m.PublicIP, m.IP)
	}
}

// SRTPPolicies are the values of users[].srtp and trunks[].srtp.
var SRTPPolicies = []string{"optional", "required", "off"}

func (v *validator) users() map[string]bool {
	exts := map[string]bool{}
	for i, u := range v.c.Users {
		p := fmt.Sprintf("users[%d]", i)
		switch {
		case !extensionRE.MatchString(u.Extension):
			v.failAt(p+".extension", "want an extension of letters, digits, _ . - (at most 32), got %q", u.Extension)
		case exts[u.Extension]:
			v.failAt(p+".extension", "duplicate extension %q", u.Extension)
		}
		exts[u.Extension] = true
		if u.Secret == "" && u.Contact == "" {
			v.failAt(p, "extension %q needs a secret (or a static contact for a device that never registers)", u.Extension)
		}
		if u.Contact != "" {
			if err := checkSIPURI(u.Contact); err != nil {
				v.failAt(p+".contact", "%v", err)
			}
		}
		if strings.ContainsAny(u.Name, "\"\r\n<>") {
			v.failAt(p+".name", "display name may not contain quotes, angle brackets or line breaks")
		}
		if !slices.Contains(SRTPPolicies, u.SRTP) {
			v.failAt(p+".srtp", "want optional, required or off, got %q", u.SRTP)
		}
		v.userCallerID(i, u)
	}
	return exts
}

func checkSIPURI(s string) error {
	rest, ok := strings.CutPrefix(s, "sip:")
	if !ok {
		rest, ok = strings.CutPrefix(s, "sips:")
	}
	if !ok || rest == "" || strings.ContainsAny(s, " \r\n<>\"") {
		return fmt.Errorf("want a SIP URI such as sip:2000@127.0.0.1:5090, got %q", s)
	}
	return nil
}

// ParseSource reads a trunk source: "203.0.113.5", "203.0.113.0/24", "127.0.0.1:5080",
// "[2001:db8::1]:5060". Port 0 means any port.
func ParseSource(s string) (netip.Prefix, uint16, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.PrefixFrom(ap.Addr(), ap.Addr().BitLen()), ap.Port(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), 0, nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		if p != p.Masked() {
			return p, 0, fmt.Errorf("CIDR %q has host bits set (did you mean %s?)", s, p.Masked())
		}
		return p, 0, nil
	}
	return netip.Prefix{}, 0, fmt.Errorf("want an IP, CIDR or IP:port, got %q", s)
}

func (v *validator) trunks() {
	names := map[string]bool{}
	for i, t := range v.c.Trunks {
		p := fmt.Sprintf("trunks[%d]", i)
		v.uniqueName(p+".name", "trunk", t.Name, names)
		for j, s := range t.Sources {
			if _, _, err := ParseSource(s); err != nil {
				v.failAt(fmt.Sprintf("%s.sources[%d]", p, j), "%v", err)
			}
		}
		if len(t.Sources) == 0 && t.Username == "" && !t.HasOutbound() {
			v.failAt(p, "trunk %q matches nothing: give sources, or username and secret, or an outbound destination", t.Name)
		}
		if (t.Username == "") != (t.Secret == "") {
			v.failAt(p, "username and secret go together")
		}
		v.trunkChecks(i, t)
		if !slices.Contains(TrunkTransports, t.Transport) {
			v.failAt(p+".transport", "want udp, tcp or tls, got %q", t.Transport)
		}
		if !slices.Contains([]string{"anchor", "passthrough"}, t.Media) {
			v.failAt(p+".media", "want anchor or passthrough, got %q", t.Media)
		}
		if !slices.Contains(SRTPPolicies, t.SRTP) {
			v.failAt(p+".srtp", "want optional, required or off, got %q", t.SRTP)
		}
		for j, pre := range t.Prefixes {
			if !didRE.MatchString(pre) {
				v.failAt(fmt.Sprintf("%s.prefixes[%d]", p, j), "want digits with an optional leading +, got %q", pre)
			}
		}
	}
}

func (v *validator) numbers(exts, flows map[string]bool) {
	dids := map[string]bool{}
	for i, n := range v.c.Numbers {
		p := fmt.Sprintf("numbers[%d]", i)
		switch {
		case !didRE.MatchString(n.DID):
			v.failAt(p+".did", "want digits with an optional leading +, got %q", n.DID)
		case dids[NormalizeDID(n.DID)]:
			v.failAt(p+".did", "duplicate number %q (numbers match with or without +)", n.DID)
		case exts[n.DID]:
			v.failAt(p+".did", "number %q is also an extension", n.DID)
		}
		dids[NormalizeDID(n.DID)] = true
		switch {
		case n.Target == "" && n.Flow == "":
			v.failAt(p, "number %q needs a target extension or a flow", n.DID)
		case n.Target != "" && n.Flow != "":
			v.failAt(p, "number %q has both a target and a flow: choose one", n.DID)
		case n.Target != "" && !exts[n.Target]:
			v.failAt(p+".target", "unknown extension %q", n.Target)
		case n.Flow != "" && !flows[n.Flow]:
			v.failAt(p+".flow", "unknown flow %q", n.Flow)
		}
		v.schedule(p, n.Schedule)
		for lang, prompt := range n.Unavailable {
			if prompt == "" {
				v.failAt(p+".unavailable."+lang, "empty prompt")
			}
		}
	}
}

func (v *validator) schedule(p string, s Schedule) {
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		v.failAt(p+".timezone", "unknown time zone %q", s.Timezone)
		loc = time.UTC
	}
	for i, h := range s.Hours {
		hp := fmt.Sprintf("%s.hours[%d]", p, i)
		if _, err := ParseDays(h.Days); err != nil {
			v.failAt(hp+".days", "%v", err)
		}
		if len(h.Open) == 0 {
			v.failAt(hp, "no open ranges (leave the day out to close it)")
		}
		for j, r := range h.Open {
			if _, _, err := ParseClockRange(r); err != nil {
				v.failAt(fmt.Sprintf("%s.open[%d]", hp, j), "%v", err)
			}
		}
	}
	for i, h := range s.Holidays {
		hp := fmt.Sprintf("%s.holidays[%d]", p, i)
		switch {
		case h.Date != "" && (h.From != "" || h.To != ""):
			v.failAt(hp, "give date, or from and to, not both")
		case h.Date != "":
			if _, err := ParseDate(h.Date); err != nil {
				v.failAt(hp+".date", "%v", err)
			}
		case h.From != "" && h.To != "":
			from, err1 := ParseDate(h.From)
			to, err2 := ParseDate(h.To)
			if err1 != nil {
				v.failAt(hp+".from", "%v", err1)
			}
			if err2 != nil {
				v.failAt(hp+".to", "%v", err2)
			}
			switch {
			case err1 != nil || err2 != nil:
			case (from.Year == 0) != (to.Year == 0):
				v.failAt(hp, "from and to must both be yearly (12-24) or both dated (2026-12-24)")
			case from.Year != 0 && time.Date(to.Year, to.Month, to.Day, 0, 0, 0, 0, time.UTC).Before(time.Date(from.Year, from.Month, from.Day, 0, 0, 0, 0, time.UTC)):
				v.failAt(hp, "holiday ends before it starts (a yearly range such as 12-24 to 01-02 may wrap the year end)")
			}
		default:
			v.failAt(hp, "a holiday needs date, or from and to")
		}
	}
	for i, o := range s.Overrides {
		op := fmt.Sprintf("%s.overrides[%d]", p, i)
		from, err1 := ParseLocalTime(o.From, loc)
		to, err2 := ParseLocalTime(o.To, loc)
		if err1 != nil {
			v.failAt(op+".from", "%v", err1)
		}
		if err2 != nil {
			v.failAt(op+".to", "%v", err2)
		}
		if err1 == nil && err2 == nil && !to.After(from) {
			v.failAt(op, "override ends before it starts")
		}
	}
}

func (v *validator) skills() map[string]Skill {
	skills := map[string]Skill{}
	for i, s := range v.c.Skills {
		p := fmt.Sprintf("skills[%d]", i)
		switch {
		case !skillNameRE.MatchString(s.Name):
			v.failAt(p+".name", "want a lower-case name (a-z, 0-9, _), got %q", s.Name)
		case skills[s.Name].Name != "":
			v.failAt(p+".name", "duplicate skill %q", s.Name)
		}
		switch s.Type {
		case "proficiency", "boolean", "text":
			if len(s.Values) > 0 {
				v.failAt(p+".values", "values are for enum skills only")
			}
		case "enum":
			if len(s.Values) == 0 {
				v.failAt(p+".values", "an enum skill needs its values")
			}
		default:
			v.failAt(p+".type", "want proficiency, boolean, text or enum, got %q", s.Type)
		}
		skills[s.Name] = s
	}
	return skills
}

// checkCondition checks a condition's syntax (acd.ParseCondition, the engine's own parser) and
// its skill, operator and values against the declared skills.
func checkCondition(s string, skills map[string]Skill) error {
	c, err := acd.ParseCondition(s)
	if err != nil {
		return fmt.Errorf("want a condition such as \"sales >= 6\", \"language == fr\", \"vip\" or \"language in (en, fr)\": %v", err)
	}
	sk, ok := skills[c.Skill]
	if !ok {
		return fmt.Errorf("unknown skill %q", c.Skill)
	}
	switch c.Op {
	case acd.OpTrue, acd.OpFalse:
		if sk.Type != "boolean" {
			return fmt.Errorf("%q alone needs a boolean skill; %s is %s", s, c.Skill, sk.Type)
		}
		return nil
	case acd.OpGe, acd.OpLe, acd.OpGt, acd.OpLt:
		if sk.Type != "proficiency" && sk.Type != "enum" {
			return fmt.Errorf("%s compares proficiency and enum skills only; %s is %s", c.Op, c.Skill, sk.Type)
		}
	}
	vals := c.Values
	if c.Op != acd.OpIn {
		vals = []string{c.Value}
	}
	for _, x := range vals {
		if err := checkSkillValue(sk, x); err != nil {
			return err
		}
	}
	return nil
}

func checkSkillValue(sk Skill, x string) error {
	switch sk.Type {
	case "proficiency":
		n, err := strconv.Atoi(x)
		if err != nil || n < 0 || n > 10 {
			return fmt.Errorf("skill %s is a proficiency from 0 to 10, got %q", sk.Name, x)
		}
	case "boolean":
		if x != "true" && x != "false" {
			return fmt.Errorf("skill %s is true or false, got %q", sk.Name, x)
		}
	case "enum":
		if !slices.Contains(sk.Values, x) {
			return fmt.Errorf("skill %s is one of %s, got %q", sk.Name, strings.Join(sk.Values, ", "), x)
		}
	}
	return nil
}

func (v *validator) queues(skills map[string]Skill) map[string]bool {
	queues := map[string]bool{}
	for _, q := range v.c.Queues {
		queues[q.Name] = true
	}
	seen := map[string]bool{}
	for i, q := range v.c.Queues {
		p := fmt.Sprintf("queues[%d]", i)
		v.uniqueName(p+".name", "queue", q.Name, seen)
		for j, ch := range q.Channels {
			if !slices.Contains(Channels, ch) {
				v.failAt(fmt.Sprintf("%s.channels[%d]", p, j), "want one of %s, got %q", strings.Join(Channels, ", "), ch)
			}
		}
		for j, r := range q.Requirements {
			if err := checkCondition(r, skills); err != nil {
				v.failAt(fmt.Sprintf("%s.requirements[%d]", p, j), "%v", err)
			}
		}
		if !slices.Contains(Strategies, q.Strategy) {
			v.failAt(p+".strategy", "want one of %s, got %q", strings.Join(Strategies, ", "), q.Strategy)
		}
		if q.Overflow != "" && (!queues[q.Overflow] || q.Overflow == q.Name) {
			v.failAt(p+".overflow", "unknown queue %q", q.Overflow)
		}
		if q.Overflow != "" && q.MaxWait == 0 {
			v.failAt(p+".max_wait", "an overflow needs max_wait")
		}
		if q.RONAMisses < 0 {
			v.failAt(p+".rona_misses", "want 1 or more")
		}
		var last Duration
		for j, r := range q.Relax {
			rp := fmt.Sprintf("%s.relax[%d]", p, j)
			if r.After <= last {
				v.failAt(rp+".after", "relaxation steps must come in increasing order of after")
			}
			last = r.After
			for k, c := range r.Set {
				if err := checkCondition(c, skills); err != nil {
					v.failAt(fmt.Sprintf("%s.set[%d]", rp, k), "%v", err)
				}
			}
			for k, d := range r.Drop {
				if _, ok := skills[d]; !ok {
					v.failAt(fmt.Sprintf("%s.drop[%d]", rp, k), "unknown skill %q", d)
				}
			}
		}
	}
	return queues
}

func (v *validator) agents(exts map[string]bool, skills map[string]Skill, profiles, queues map[string]bool) {
	ids := map[string]bool{}
	for i, a := range v.c.Agents {
		p := fmt.Sprintf("agents[%d]", i)
		v.uniqueName(p+".id", "agent", a.ID, ids)
		if a.Extension != "" && !exts[a.Extension] {
			v.failAt(p+".extension", "unknown extension %q", a.Extension)
		}
		v.agentDevice(p, a)
		if a.AutoLogin && a.Extension == "" {
			v.failAt(p+".auto_login", "auto_login needs an extension")
		}
		v.skillValues(p, a.Skills, skills)
		for j, name := range a.Profiles {
			if !profiles[name] {
				v.failAt(fmt.Sprintf("%s.profiles[%d]", p, j), "unknown profile %q", name)
			}
		}
		for j, q := range a.Queues {
			if !queues[q] {
				v.failAt(fmt.Sprintf("%s.queues[%d]", p, j), "unknown queue %q", q)
			}
		}
		for ch, n := range a.Capacity {
			if !slices.Contains(Channels, ch) {
				v.failAt(p+".capacity."+ch, "unknown channel %q (want %s)", ch, strings.Join(Channels, ", "))
			} else if n < 0 || n > 100 {
				v.failAt(p+".capacity."+ch, "want 0 to 100, got %d", n)
			}
		}
	}
}
