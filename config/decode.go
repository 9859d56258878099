package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a config file, at the place it was written.
type Error struct {
	Pos  Pos
	Path string // field path: "numbers[2].hours[0].open[1]"
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Pos.File != "" {
		b.WriteString(e.Pos.File)
		b.WriteByte(':')
	}
	if e.Pos.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Pos.Line, e.Pos.Column)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// errorList collects every problem found, so one run of `ccswitch check` shows them all.
type errorList struct {
	file string
	errs []*Error
}

func (l *errorList) add(n *yaml.Node, path, format string, args ...any) {
	p := Pos{File: l.file}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	l.errs = append(l.errs, &Error{Pos: p, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// err returns the problems in file order, joined, or nil.
func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool {
		a, b := l.errs[i].Pos, l.errs[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return &Errors{List: l.errs}
}

// Errors is every problem found in a configuration, in file order.
type Errors struct{ List []*Error }

func (e *Errors) Error() string {
	lines := make([]string, len(e.List))
	for i, x := range e.List {
		lines[i] = x.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each *Error.
func (e *Errors) Unwrap() []error {
	out := make([]error, len(e.List))
	for i, x := range e.List {
		out[i] = x
	}
	return out
}

// decoder walks yaml nodes into Go values strictly: unknown keys, duplicate keys and wrong
// types are errors, each with its position; decoding goes on past an error so that all of
// them are reported.
type decoder struct {
	errs    *errorList
	sources map[string]Pos
	getenv  func(string) (string, bool)
}

var (
	durationType = reflect.TypeOf(Duration(0))
	envRef       = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.sources[path] = Pos{File: d.errs.file, Line: n.Line, Column: n.Column}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value leaves the default
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	if v.Type() == durationType {
		s, ok := d.scalar(n, path, "a duration such as 30s or 5m")
		if !ok {
			return
		}
		dur, err := time.ParseDuration(s)
		if err != nil || dur < 0 {
			d.errs.add(n, path, "want a duration such as 30s or 5m, got %q", s)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errs.add(n, path, "want a list, got %s", kindName(n))
			return
		}
		// Lists append, so that a folder of files adds up; indexes in paths count across files.
		start := v.Len()
		s := reflect.AppendSlice(v, reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content)))
		for i, c := range n.Content {
			d.decode(c, s.Index(start+i), fmt.Sprintf("%s[%d]", path, start+i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errs.add(n, path, "want a mapping, got %s", kindName(n))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kp := path + "." + k.Value
			if seen[k.Value] {
				d.errs.add(k, kp, "duplicate key %q", k.Value)
				continue
			}
			seen[k.Value] = true
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, ev, kp)
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
	case reflect.String:
		s, ok := d.scalar(n, path, "a string")
		if ok {
			v.SetString(d.expand(n, path, s))
		}
	case reflect.Bool:
		s, ok := d.scalar(n, path, "true or false")
		if !ok {
			return
		}
		b, err := strconv.ParseBool(s)
		if err != nil || n.Tag != "!!bool" {
			d.errs.add(n, path, "want true or false, got %q", s)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		s, ok := d.scalar(n, path, "a whole number")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			d.errs.add(n, path, "want a whole number, got %q", s)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		s, ok := d.scalar(n, path, "a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			d.errs.add(n, path, "want a number, got %q", s)
			return
		}
		v.SetFloat(f)
	default:
		d.errs.add(n, path, "internal: cannot decode into %s", v.Type())
	}
}

func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errs.add(n, path, "want %s, got %s", want, kindName(n))
		return "", false
	}
	return n.Value, true
}

// expand replaces ${VAR} with the environment's value; an unset variable is an error, never
// an empty secret.
func (d *decoder) expand(n *yaml.Node, path, s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	return envRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		val, ok := d.getenv(name)
		if !ok {
			d.errs.add(n, path, "environment variable %s is not set", name)
		}
		return val
	})
}

// fieldInfo is a struct field reachable by a YAML key, through ",inline" structs.
type fieldInfo struct {
	index []int
	// list is the field a list node decodes into instead (tag option "list=Field"): one key
	// written either as a single value or as a list.
	list []int
}

func structFields(t reflect.Type) (map[string]fieldInfo, []string) {
	fields := map[string]fieldInfo{}
	var order []string
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			if tag == "-" || !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), prefix...), i)
			if opts == "inline" {
				walk(f.Type, idx)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			fi := fieldInfo{index: idx}
			if alt, ok := strings.CutPrefix(opts, "list="); ok {
				if lf, ok := t.FieldByName(alt); ok {
					fi.list = append(append([]int(nil), prefix...), lf.Index...)
				}
			}
			fields[name] = fi
			order = append(order, name)
		}
	}
	walk(t, nil)
	return fields, order
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errs.add(n, path, "want a mapping, got %s", kindName(n))
		return
	}
	fields, order := structFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		kp := k.Value
		if path != "" {
			kp = path + "." + k.Value
		}
		f, ok := fields[k.Value]
		if !ok {
			d.errs.add(k, kp, "unknown field %q (known: %s)", k.Value, strings.Join(order, ", "))
			continue
		}
		if seen[k.Value] {
			d.errs.add(k, kp, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		fv := v.FieldByIndex(f.index)
		if f.list != nil && val.Kind == yaml.SequenceNode {
			fv = v.FieldByIndex(f.list)
		}
		if prev, ok := d.sources[kp]; ok && prev.File != d.errs.file && val.Kind == yaml.ScalarNode {
			d.errs.add(k, kp, "already set in %s:%d", prev.File, prev.Line)
			continue
		}
		d.decode(val, fv, kp)
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

// Parse decodes one YAML document (named name in messages), applies defaults and validates
// it. The error, if any, is an *Errors listing every problem with file:line:column and path.
func Parse(name string, data []byte) (*Config, error) {
	return parse(name, data, os.LookupEnv)
}

func parse(name string, data []byte, getenv func(string) (string, bool)) (*Config, error) {
	return parseFiles([]string{name}, [][]byte{data}, getenv)
}

// parseFiles decodes several files into one Config: lists add up, and a setting may be
// written in one file only.
func parseFiles(names []string, datas [][]byte, getenv func(string) (string, bool)) (*Config, error) {
	cfg := &Config{Sources: map[string]Pos{}}
	errs := &errorList{}
	for i, name := range names {
		errs.file = name
		decodeFile(cfg, errs, name, datas[i], getenv)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	cfg.Channels.present(cfg.Sources)
	cfg.ApplyDefaults()
	errs.file = ""
	cfg.validate(errs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func decodeFile(cfg *Config, errs *errorList, name string, data []byte, getenv func(string) (string, bool)) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 syntax errors read "yaml: line N: msg".
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			num, after, _ := strings.Cut(rest, ":")
			line, _ = strconv.Atoi(num)
			msg = strings.TrimSpace(after)
		}
		errs.errs = append(errs.errs, &Error{Pos: Pos{File: name, Line: line, Column: 1}, Msg: "syntax: " + msg})
		return
	}
	d := &decoder{errs: errs, sources: cfg.Sources, getenv: getenv}
	if len(doc.Content) > 0 {
		d.decode(doc.Content[0], reflect.ValueOf(cfg).Elem(), "")
	}
}

// Load reads and parses the config at path: one YAML file, or a folder whose *.yaml and
// *.yml files are read in name order and add up to one configuration.
func Load(path string) (*Config, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var names []string
	dir := filepath.Dir(path)
	if st.IsDir() {
		dir = path
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(path, pat))
			names = append(names, m...)
		}
		sort.Strings(names)
		if len(names) == 0 {
			return nil, fmt.Errorf("config: %s: no *.yaml files", path)
		}
	} else {
		names = []string{path}
	}
	datas := make([][]byte, len(names))
	for i, n := range names {
		if datas[i], err = os.ReadFile(n); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	cfg, err := parseFiles(names, datas, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	cfg.Dir = dir
	return cfg, nil
}
