package acd

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Channel is the medium of a task. Capacity is counted per channel.
type Channel uint8

const (
	Voice Channel = iota
	Chat
	Email
	Social
	// NumChannels is the number of channels; Channel values are below it.
	NumChannels
)

var channelNames = [NumChannels]string{"voice", "chat", "email", "social"}

func (c Channel) String() string {
	if c < NumChannels {
		return channelNames[c]
	}
	return "channel(" + strconv.Itoa(int(c)) + ")"
}

// ChannelSet is a set of channels, one bit per Channel: the channels an agent takes tasks on
// (SetChannels, AgentStatus.Channels).
type ChannelSet uint8

// AllChannels holds every channel; an agent takes tasks on all of them until SetChannels.
const AllChannels ChannelSet = 1<<NumChannels - 1

// ChannelsOf returns the set holding cs.
func ChannelsOf(cs ...Channel) ChannelSet {
	var s ChannelSet
	for _, c := range cs {
		if c < NumChannels {
			s |= 1 << c
		}
	}
	return s
}

// Has reports whether c is in s.
func (s ChannelSet) Has(c Channel) bool { return c < NumChannels && s&(1<<c) != 0 }

// String lists the channels of s, comma-separated ("voice,chat"); "" for none.
func (s ChannelSet) String() string {
	var b strings.Builder
	for c := Channel(0); c < NumChannels; c++ {
		if s.Has(c) {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(c.String())
		}
	}
	return b.String()
}

// ParseChannel parses the names printed by Channel.String.
func ParseChannel(s string) (Channel, error) {
	for i, n := range channelNames {
		if strings.EqualFold(s, n) {
			return Channel(i), nil
		}
	}
	return 0, fmt.Errorf("channel %q: %w", s, ErrChannel)
}

// RelaxStep loosens a queue's requirements for a task that has waited
// After in the queue. Set replaces every condition on the same skill (or
// adds the condition if there was none); Drop removes every condition on
// the named skills. Steps apply in order, cumulatively, to the queue's
// and the task's own requirements, while the task keeps its place.
type RelaxStep struct {
	After time.Duration
	Set   []string
	Drop  []string
}

// QueueDef declares a queue. Zero values take defaults: all channels,
// no requirements, Strategy "longest-idle", RONATimeout 20s, ServiceLevel
// 20s, no wrap-up, no max wait, RONAMisses 0 (misses never set the agent
// not ready).
type QueueDef struct {
	Name         string
	Channels     []Channel
	Requirements []string
	// Priority is added to the priority of every task in the queue.
	Priority int
	Strategy string
	WrapUp   time.Duration
	// RONATimeout bounds every reservation; it cannot be disabled.
	RONATimeout time.Duration
	// RONAMisses consecutive rejects or timeouts put the agent in state
	// RONA (not routable until SetState Available); 0 disables it.
	RONAMisses int
	// MaxWait, if set, ends the wait: the task moves to Overflow, or ends
	// timed out when Overflow is empty.
	MaxWait  time.Duration
	Overflow string
	// ServiceLevel is the answer-time target of the service level figure.
	ServiceLevel time.Duration
	Relax        []RelaxStep
}

// ProfileDef is a named set of skills that agents can include.
type ProfileDef struct {
	Name   string
	Skills map[string]string
}

// AgentDef declares an agent. Skills maps skill name to value
// ("7" for proficiency, "true"/"false" for boolean, the text or enum value
// otherwise); Profiles are merged first and Skills override them.
// Capacity is the number of concurrent tasks per channel; a channel
// absent from it is not served. Blocks is the cross-channel rule: while
// the agent holds a task on a key channel (reserved, accepted or in
// wrap-up), the listed channels are not offered. NoChatDuringCall is
// shorthand for Blocks{Voice: {Chat}}.
type AgentDef struct {
	ID               string
	Name             string
	Skills           map[string]string
	Profiles         []string
	Queues           []string
	Capacity         map[Channel]int
	NoChatDuringCall bool
	Blocks           map[Channel][]Channel
	// Tag is the caller's own handle for the agent, returned as Event.AgentTag in every
	// event about the agent (see Task.Tag). Zero if unused.
	Tag uint64
}

// Config is everything New and Apply need. Skills, Profiles, Queues and
// Agents are the plain definitions the config layer fills. Clock defaults
// to the real clock; Sink must be set.
type Config struct {
	Skills   []SkillDef
	Profiles []ProfileDef
	Queues   []QueueDef
	Agents   []AgentDef

	// Strategies adds custom ordering strategies by name, next to the
	// built-ins (see Strategy).
	Strategies map[string]Strategy

	Clock Clock
	Sink  Sink
	// RingSize is the capacity of the command ring, rounded up to a power
	// of two; default 16384.
	RingSize int
	// SnapshotEvery is the minimum period between two published
	// snapshots; default 100ms. Sync always publishes.
	SnapshotEvery time.Duration
	Logger        *slog.Logger
}

// Validate checks Skills, Profiles, Queues, Agents and Strategies as New
// would, and returns every violation joined (each wraps ErrBadConfig and
// names the definition, like "queues[2] sales: requirements[0]: ...").
// Clock, Sink and the other runtime fields are not checked.
func (c *Config) Validate() error {
	_, err := compile(c)
	return err
}

const (
	defaultRONA         = 20 * time.Second
	defaultServiceLevel = 20 * time.Second
	defaultRingSize     = 1 << 14
	defaultSnapshot     = 100 * time.Millisecond
)

// skill is a compiled SkillDef. Agent values are small integers:
// proficiency level, 0/1 for boolean, value index for enum and text
// (text values are interned from the agents' values).
type skill struct {
	name   string
	typ    SkillType
	values map[string]int16
}

type relaxModel struct {
	after int64
	set   []Condition
	drop  []string
}

type queueModel struct {
	name       string
	chans      uint8 // bit per Channel
	reqs       []Condition
	prio       int
	strategy   Strategy
	wrapUp     int64
	rona       int64
	ronaMisses int
	maxWait    int64
	overflow   string
	sl         int64
	relax      []relaxModel
}

type agentModel struct {
	id, name string
	tag      uint64
	vals     []int16 // by skill index; -1 absent
	queues   []string
	capacity [NumChannels]uint16
	blocks   [NumChannels]uint8 // channel -> mask of channels it blocks
}

// model is the compiled, immutable form of a Config.
type model struct {
	skills   []skill
	skillIdx map[string]int
	queues   []queueModel
	queueIdx map[string]int
	agents   []agentModel
	agentIdx map[string]int
}

func cfgErr(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, ErrBadConfig)...)
}

// compile validates cfg and builds its model. It reports every violation.
func compile(cfg *Config) (*model, error) {
	var errs []error
	m := &model{skillIdx: map[string]int{}, queueIdx: map[string]int{}, agentIdx: map[string]int{}}
	for i, sd := range cfg.Skills {
		if !validName(sd.Name) {
			errs = append(errs, cfgErr("skills[%d]: bad name %q", i, sd.Name))
			continue
		}
		if _, dup := m.skillIdx[sd.Name]; dup {
			errs = append(errs, cfgErr("skills[%d]: duplicate skill %q", i, sd.Name))
			continue
		}
		if sd.Type > Enum {
			errs = append(errs, cfgErr("skills[%d] %s: %v", i, sd.Name, sd.Type))
			continue
		}
		sk := skill{name: sd.Name, typ: sd.Type, values: map[string]int16{}}
		if sd.Type == Enum {
			if len(sd.Values) == 0 || len(sd.Values) > maxEnumValues {
				errs = append(errs, cfgErr("skills[%d] %s: enum needs 1 to %d values, has %d", i, sd.Name, maxEnumValues, len(sd.Values)))
			}
			for j, v := range sd.Values {
				if _, dup := sk.values[v]; dup {
					errs = append(errs, cfgErr("skills[%d] %s: duplicate value %q", i, sd.Name, v))
				}
				sk.values[v] = int16(j)
			}
		}
		m.skillIdx[sd.Name] = len(m.skills)
		m.skills = append(m.skills, sk)
	}
	profiles := map[string]map[string]string{}
	for i, p := range cfg.Profiles {
		if _, dup := profiles[p.Name]; dup || p.Name == "" {
			errs = append(errs, cfgErr("profiles[%d]: duplicate or empty name %q", i, p.Name))
			continue
		}
		profiles[p.Name] = p.Skills
	}
	for i := range cfg.Agents {
		a := &cfg.Agents[i]
		merged := map[string]string{}
		for _, pn := range a.Profiles {
			p, ok := profiles[pn]
			if !ok {
				errs = append(errs, cfgErr("agents[%d] %s: unknown profile %q", i, a.ID, pn))
			}
			for k, v := range p {
				merged[k] = v
			}
		}
		for k, v := range a.Skills {
			merged[k] = v
		}
		// Intern text values so conditions compare small integers.
		for k, v := range merged {
			if si, ok := m.skillIdx[k]; ok && m.skills[si].typ == Text {
				if _, seen := m.skills[si].values[v]; !seen {
					m.skills[si].values[v] = int16(len(m.skills[si].values))
				}
			}
		}
	}
	strategies := map[string]Strategy{}
	for n, s := range builtinStrategies {
		strategies[n] = s
	}
	for n, s := range cfg.Strategies {
		strategies[n] = s
	}
	for i, qd := range cfg.Queues {
		where := fmt.Sprintf("queues[%d] %s", i, qd.Name)
		if !validName(qd.Name) {
			errs = append(errs, cfgErr("%s: bad name", where))
			continue
		}
		if _, dup := m.queueIdx[qd.Name]; dup {
			errs = append(errs, cfgErr("%s: duplicate queue", where))
			continue
		}
		q := queueModel{name: qd.Name, prio: qd.Priority, overflow: qd.Overflow,
			wrapUp: int64(qd.WrapUp), rona: int64(qd.RONATimeout), ronaMisses: qd.RONAMisses,
			maxWait: int64(qd.MaxWait), sl: int64(qd.ServiceLevel)}
		for _, c := range qd.Channels {
			if c >= NumChannels {
				errs = append(errs, cfgErr("%s: %v", where, c))
				continue
			}
			q.chans |= 1 << c
		}
		if len(qd.Channels) == 0 {
			q.chans = 1<<NumChannels - 1
		}
		if q.rona == 0 {
			q.rona = int64(defaultRONA)
		}
		if q.sl == 0 {
			q.sl = int64(defaultServiceLevel)
		}
		if qd.WrapUp < 0 || qd.RONATimeout < 0 || qd.MaxWait < 0 || qd.RONAMisses < 0 || qd.ServiceLevel < 0 {
			errs = append(errs, cfgErr("%s: negative duration or count", where))
		}
		name := qd.Strategy
		if name == "" {
			name = "longest-idle"
		}
		if s, ok := strategies[name]; ok {
			q.strategy = s
		} else {
			errs = append(errs, cfgErr("%s: unknown strategy %q", where, qd.Strategy))
		}
		for j, s := range qd.Requirements {
			c, err := ParseCondition(s)
			if err == nil {
				err = m.checkCondition(c)
			}
			if err != nil {
				errs = append(errs, cfgErr("%s: requirements[%d]: %w", where, j, err))
				continue
			}
			q.reqs = append(q.reqs, c)
		}
		var last time.Duration
		for j, st := range qd.Relax {
			if st.After <= last {
				errs = append(errs, cfgErr("%s: relax[%d]: after %v must be positive and increasing", where, j, st.After))
			}
			last = st.After
			r := relaxModel{after: int64(st.After)}
			for k, s := range st.Set {
				c, err := ParseCondition(s)
				if err == nil {
					err = m.checkCondition(c)
				}
				if err != nil {
					errs = append(errs, cfgErr("%s: relax[%d].set[%d]: %w", where, j, k, err))
					continue
				}
				r.set = append(r.set, c)
			}
			for k, s := range st.Drop {
				if _, ok := m.skillIdx[s]; !ok {
					errs = append(errs, cfgErr("%s: relax[%d].drop[%d]: skill %q: %w", where, j, k, s, ErrUnknownSkill))
				}
				r.drop = append(r.drop, s)
			}
			q.relax = append(q.relax, r)
		}
		if len(q.relax) > maxStages-1 {
			errs = append(errs, cfgErr("%s: at most %d relax steps", where, maxStages-1))
		}
		m.queueIdx[qd.Name] = len(m.queues)
		m.queues = append(m.queues, q)
	}
	for i, q := range m.queues {
		if q.overflow != "" {
			if _, ok := m.queueIdx[q.overflow]; !ok {
				errs = append(errs, cfgErr("queues[%d] %s: overflow %q: %w", i, q.name, q.overflow, ErrUnknownQueue))
			}
		}
	}
	for i := range cfg.Agents {
		ad := &cfg.Agents[i]
		where := fmt.Sprintf("agents[%d] %s", i, ad.ID)
		if ad.ID == "" {
			errs = append(errs, cfgErr("%s: empty id", where))
			continue
		}
		if _, dup := m.agentIdx[ad.ID]; dup {
			errs = append(errs, cfgErr("%s: duplicate agent", where))
			continue
		}
		am := agentModel{id: ad.ID, name: ad.Name, tag: ad.Tag, vals: make([]int16, len(m.skills))}
		for si := range am.vals {
			am.vals[si] = -1
			if m.skills[si].typ == Boolean {
				am.vals[si] = 0
			}
		}
		merged := map[string]string{}
		for _, pn := range ad.Profiles {
			for k, v := range profiles[pn] {
				merged[k] = v
			}
		}
		for k, v := range ad.Skills {
			merged[k] = v
		}
		keys := make([]string, 0, len(merged))
		for k := range merged {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			si, ok := m.skillIdx[k]
			if !ok {
				errs = append(errs, cfgErr("%s: skill %q: %w", where, k, ErrUnknownSkill))
				continue
			}
			v, err := m.skills[si].agentValue(merged[k])
			if err != nil {
				errs = append(errs, cfgErr("%s: skill %q: %w", where, k, err))
				continue
			}
			am.vals[si] = v
		}
		for _, qn := range ad.Queues {
			if _, ok := m.queueIdx[qn]; !ok {
				errs = append(errs, cfgErr("%s: queue %q: %w", where, qn, ErrUnknownQueue))
				continue
			}
			if !slices.Contains(am.queues, qn) {
				am.queues = append(am.queues, qn)
			}
		}
		for c, n := range ad.Capacity {
			if c >= NumChannels || n < 0 || n > 1000 {
				errs = append(errs, cfgErr("%s: capacity %v=%d", where, c, n))
				continue
			}
			am.capacity[c] = uint16(n)
		}
		for c, bs := range ad.Blocks {
			for _, b := range bs {
				if c >= NumChannels || b >= NumChannels {
					errs = append(errs, cfgErr("%s: blocks %v->%v", where, c, b))
					continue
				}
				am.blocks[c] |= 1 << b
			}
		}
		if ad.NoChatDuringCall {
			am.blocks[Voice] |= 1 << Chat
		}
		m.agentIdx[ad.ID] = len(m.agents)
		m.agents = append(m.agents, am)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

func validName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func parseBool(v string) (int16, bool) {
	switch strings.ToLower(v) {
	case "true", "yes", "1", "on":
		return 1, true
	case "false", "no", "0", "off":
		return 0, true
	}
	return 0, false
}

// agentValue converts an agent's configured value to its integer form.
func (s *skill) agentValue(v string) (int16, error) {
	switch s.typ {
	case Proficiency:
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxProficiency {
			return 0, fmt.Errorf("proficiency %q not in 0..%d: %w", v, MaxProficiency, ErrBadValue)
		}
		return int16(n), nil
	case Boolean:
		b, ok := parseBool(v)
		if !ok {
			return 0, fmt.Errorf("boolean %q: %w", v, ErrBadValue)
		}
		return b, nil
	default:
		id, ok := s.values[v]
		if !ok {
			return 0, fmt.Errorf("%v value %q not declared: %w", s.typ, v, ErrBadValue)
		}
		return id, nil
	}
}

// checkCondition reports whether c names a declared skill with an
// operator and values that fit its type.
func (m *model) checkCondition(c Condition) error {
	_, err := m.compileCond(c)
	return err
}

// ccond is a compiled condition over agent values.
type ccond struct {
	skill    int32
	op       Op // OpEq..OpIn only
	absentOK bool
	v        int16
	mask     uint64  // OpIn on enum
	set      []int16 // OpIn on text
}

func (c *ccond) match(vals []int16) bool {
	x := vals[c.skill]
	if x < 0 {
		return c.absentOK
	}
	switch c.op {
	case OpEq:
		return x == c.v
	case OpNe:
		return x != c.v
	case OpGe:
		return x >= c.v
	case OpLe:
		return x <= c.v
	case OpGt:
		return x > c.v
	case OpLt:
		return x < c.v
	case OpIn:
		if c.set != nil {
			return slices.Contains(c.set, x)
		}
		return x < 64 && c.mask>>uint(x)&1 == 1
	}
	return false
}

func (m *model) compileCond(c Condition) (ccond, error) {
	si, ok := m.skillIdx[c.Skill]
	if !ok {
		return ccond{}, fmt.Errorf("skill %q: %w", c.Skill, ErrUnknownSkill)
	}
	s := &m.skills[si]
	cc := ccond{skill: int32(si), op: c.Op}
	bad := func() (ccond, error) {
		return ccond{}, fmt.Errorf("%q on %v skill %s: %w", c.String(), s.typ, s.name, ErrBadValue)
	}
	// value converts an operand; unknown text values get -2, which no
	// agent has.
	value := func(v string) (int16, bool) {
		switch s.typ {
		case Proficiency:
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > MaxProficiency {
				return 0, false
			}
			return int16(n), true
		case Boolean:
			return parseBool(v)
		case Text:
			if id, ok := s.values[v]; ok {
				return id, true
			}
			return -2, true
		default:
			id, ok := s.values[v]
			return id, ok
		}
	}
	switch c.Op {
	case OpTrue, OpFalse:
		// Present (level >= 1 for numbers and booleans) or not.
		cc.v = 0
		if s.typ == Proficiency || s.typ == Boolean {
			cc.v = 1
		}
		if c.Op == OpTrue {
			cc.op = OpGe
		} else {
			cc.op, cc.absentOK = OpLt, true
		}
	case OpEq, OpNe, OpGe, OpLe, OpGt, OpLt:
		if (s.typ == Text || s.typ == Boolean) && c.Op != OpEq && c.Op != OpNe {
			return bad()
		}
		v, ok := value(c.Value)
		if !ok {
			return bad()
		}
		cc.v = v
		cc.absentOK = c.Op == OpNe
	case OpIn:
		if len(c.Values) == 0 || s.typ == Boolean || s.typ == Proficiency && len(c.Values) > 64 {
			return bad()
		}
		if s.typ == Text {
			cc.set = make([]int16, 0, len(c.Values))
		}
		for _, sv := range c.Values {
			v, ok := value(sv)
			if !ok {
				return bad()
			}
			if cc.set != nil {
				cc.set = append(cc.set, v)
			} else {
				cc.mask |= 1 << uint(v)
			}
		}
	default:
		return bad()
	}
	return cc, nil
}

// effective applies the first stage relaxation steps of q to the
// queue's and the task's requirements.
func (q *queueModel) effective(task []Condition, stage int) []Condition {
	out := make([]Condition, 0, len(q.reqs)+len(task))
	out = append(out, q.reqs...)
	out = append(out, task...)
	for _, st := range q.relax[:stage] {
		for _, c := range st.set {
			out = slices.DeleteFunc(out, func(x Condition) bool { return x.Skill == c.Skill })
		}
		out = append(out, st.set...)
		for _, d := range st.drop {
			out = slices.DeleteFunc(out, func(x Condition) bool { return x.Skill == d })
		}
	}
	return out
}
