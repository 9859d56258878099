package acd

import (
	"fmt"
	"strconv"
	"strings"
)

// SkillType says how an agent's value for a skill is compared.
type SkillType uint8

const (
	// Proficiency is a level from 0 to 10, compared as a number.
	Proficiency SkillType = iota
	// Boolean is true or false; a bare condition `vip` means vip == true.
	Boolean
	// Text is a free string compared for exact equality (==, !=, in).
	Text
	// Enum is one of SkillDef.Values; values are ordered as listed, so
	// ordering operators compare positions.
	Enum
)

var skillTypeNames = [...]string{"proficiency", "boolean", "text", "enum"}

func (t SkillType) String() string {
	if int(t) < len(skillTypeNames) {
		return skillTypeNames[t]
	}
	return "skilltype(" + strconv.Itoa(int(t)) + ")"
}

// ParseSkillType parses the names printed by SkillType.String.
func ParseSkillType(s string) (SkillType, error) {
	for i, n := range skillTypeNames {
		if strings.EqualFold(s, n) {
			return SkillType(i), nil
		}
	}
	return 0, fmt.Errorf("skill type %q: %w", s, ErrBadSkillType)
}

// MaxProficiency is the highest proficiency level.
const MaxProficiency = 10

// maxEnumValues bounds SkillDef.Values for Enum skills, so a set of
// values fits a uint64 mask.
const maxEnumValues = 64

// SkillDef declares a skill. Values lists the allowed values of an Enum
// skill, in order; it is ignored for other types.
type SkillDef struct {
	Name   string
	Type   SkillType
	Values []string
}

// Op is a condition operator.
type Op uint8

const (
	// OpTrue is a bare `name`: a boolean skill that is true.
	OpTrue Op = iota
	// OpFalse is `!name`: a boolean skill that is false or absent.
	OpFalse
	OpEq // ==
	OpNe // !=
	OpGe // >=
	OpLe // <=
	OpGt // >
	OpLt // <
	OpIn // in (a, b, c)
)

var opNames = [...]string{"", "!", "==", "!=", ">=", "<=", ">", "<", "in"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Condition is one parsed skill condition, such as `language == fr`,
// `sales >= 6`, `vip`, `!trainee` or `tier in (gold, platinum)`. Value
// holds the operand of binary operators; Values the list of OpIn.
type Condition struct {
	Skill  string
	Op     Op
	Value  string
	Values []string
}

// String returns the canonical text of c, which ParseCondition accepts.
func (c Condition) String() string {
	switch c.Op {
	case OpTrue:
		return c.Skill
	case OpFalse:
		return "!" + c.Skill
	case OpIn:
		q := make([]string, len(c.Values))
		for i, v := range c.Values {
			q[i] = quoteValue(v)
		}
		return c.Skill + " in (" + strings.Join(q, ", ") + ")"
	default:
		return c.Skill + " " + c.Op.String() + " " + quoteValue(c.Value)
	}
}

func quoteValue(v string) string {
	for i := 0; i < len(v); i++ {
		if !isValueByte(v[i]) {
			if strings.IndexByte(v, '"') >= 0 {
				return "'" + v + "'"
			}
			return `"` + v + `"`
		}
	}
	if v == "" {
		return `""`
	}
	return v
}

// ParseCondition parses one condition. The grammar is
//
//	cond  = name | "!" name | name op value | name "in" list
//	op    = "==" | "!=" | ">=" | "<=" | ">" | "<"
//	list  = "(" value {"," value} ")" | "[" value {"," value} "]" | value {"," value}
//	name  = letter {letter | digit | "_" | "-" | "."}
//	value = a run of characters other than space , ( ) [ ] ! = < > " ' , or a "quoted" or 'quoted' string
//
// Whether the skill exists and the value fits its type is checked when
// the condition is used (New, Apply, Enqueue), not here. Errors wrap
// ErrSyntax and give the byte offset.
func ParseCondition(s string) (Condition, error) {
	p := condParser{s: s}
	c, err := p.parse()
	if err != nil {
		return Condition{}, fmt.Errorf("condition %q: %w", s, err)
	}
	return c, nil
}

type condParser struct {
	s   string
	pos int
}

func (p *condParser) errf(format string, args ...any) error {
	return fmt.Errorf("offset %d: "+format+": %w", append([]any{p.pos}, append(args, ErrSyntax)...)...)
}

func (p *condParser) skipSpace() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

func isNameStart(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_'
}

func isNameByte(b byte) bool {
	return isNameStart(b) || b >= '0' && b <= '9' || b == '-' || b == '.'
}

func isValueByte(b byte) bool {
	switch b {
	case ' ', '\t', ',', '(', ')', '[', ']', '!', '=', '<', '>', '"', '\'':
		return false
	}
	return b > ' ' && b != 0x7f
}

func (p *condParser) name() (string, error) {
	p.skipSpace()
	start := p.pos
	if p.pos >= len(p.s) || !isNameStart(p.s[p.pos]) {
		return "", p.errf("expected skill name")
	}
	for p.pos < len(p.s) && isNameByte(p.s[p.pos]) {
		p.pos++
	}
	return p.s[start:p.pos], nil
}

func (p *condParser) value() (string, error) {
	p.skipSpace()
	if p.pos >= len(p.s) {
		return "", p.errf("expected value")
	}
	if q := p.s[p.pos]; q == '"' || q == '\'' {
		end := strings.IndexByte(p.s[p.pos+1:], q)
		if end < 0 {
			return "", p.errf("unterminated quoted value")
		}
		v := p.s[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		return v, nil
	}
	start := p.pos
	for p.pos < len(p.s) && isValueByte(p.s[p.pos]) {
		p.pos++
	}
	if start == p.pos {
		return "", p.errf("expected value")
	}
	return p.s[start:p.pos], nil
}

func (p *condParser) parse() (Condition, error) {
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == '!' {
		p.pos++
		n, err := p.name()
		if err != nil {
			return Condition{}, err
		}
		p.skipSpace()
		if p.pos != len(p.s) {
			return Condition{}, p.errf("unexpected %q after !%s", p.s[p.pos:], n)
		}
		return Condition{Skill: n, Op: OpFalse}, nil
	}
	n, err := p.name()
	if err != nil {
		return Condition{}, err
	}
	p.skipSpace()
	if p.pos == len(p.s) {
		return Condition{Skill: n, Op: OpTrue}, nil
	}
	rest := p.s[p.pos:]
	var op Op
	switch {
	case strings.HasPrefix(rest, "=="):
		op = OpEq
	case strings.HasPrefix(rest, "!="):
		op = OpNe
	case strings.HasPrefix(rest, ">="):
		op = OpGe
	case strings.HasPrefix(rest, "<="):
		op = OpLe
	case strings.HasPrefix(rest, ">"):
		op = OpGt
	case strings.HasPrefix(rest, "<"):
		op = OpLt
	case len(rest) > 2 && rest[:2] == "in" && !isNameByte(rest[2]):
		op = OpIn
	default:
		return Condition{}, p.errf("expected operator, got %q", rest)
	}
	if op == OpIn {
		p.pos += 2
		vals, err := p.list()
		if err != nil {
			return Condition{}, err
		}
		return Condition{Skill: n, Op: OpIn, Values: vals}, nil
	}
	p.pos += len(op.String())
	v, err := p.value()
	if err != nil {
		return Condition{}, err
	}
	p.skipSpace()
	if p.pos != len(p.s) {
		return Condition{}, p.errf("unexpected %q after value", p.s[p.pos:])
	}
	return Condition{Skill: n, Op: op, Value: v}, nil
}

func (p *condParser) list() ([]string, error) {
	p.skipSpace()
	var closer byte
	if p.pos < len(p.s) {
		switch p.s[p.pos] {
		case '(':
			closer = ')'
		case '[':
			closer = ']'
		}
	}
	if closer != 0 {
		p.pos++
	}
	var vals []string
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
		p.skipSpace()
		if p.pos < len(p.s) && p.s[p.pos] == ',' {
			p.pos++
			continue
		}
		break
	}
	if closer != 0 {
		if p.pos >= len(p.s) || p.s[p.pos] != closer {
			return nil, p.errf("expected %q", closer)
		}
		p.pos++
		p.skipSpace()
	}
	if p.pos != len(p.s) {
		return nil, p.errf("unexpected %q after list", p.s[p.pos:])
	}
	return vals, nil
}

// MustParseConditions parses each string with ParseCondition and panics
// on the first error. It is meant for tests and examples.
func MustParseConditions(ss ...string) []Condition {
	out := make([]Condition, len(ss))
	for i, s := range ss {
		c, err := ParseCondition(s)
		if err != nil {
			panic(err)
		}
		out[i] = c
	}
	return out
}
