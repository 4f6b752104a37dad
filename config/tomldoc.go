package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2/unstable"
)

// The TOML front end of ParseTOML. go-toml's parser (the unstable package:
// expressions, keys and scalar tokens, checked against the grammar) does
// the lexing; this file gives the document its meaning: the tables that
// headers, dotted keys and arrays of tables make, the rules against
// defining anything twice, and the values, typed as a TOML decoder types
// them (string, int64, float64, bool, time.Time, []any, map[string]any).
//
// go-toml's own decoder does the same, but it checks each table against
// every table before it: a file of 1,000 programs took 12 ms there and
// 25 ms in BurntSushi/toml (the library used before), most of a daemon's
// work before its first fork; this takes about 2 ms. FuzzTOMLDocMatchesGoTOML
// holds it to go-toml's decoder on any input.
//
// It also records the line where each key was first defined, which the
// configuration's error messages cite.

// tomlDoc is a decoded TOML document.
type tomlDoc struct {
	root map[string]any
	// keys are the keys of each table, by table path (joined with NUL), in
	// the order they first appear in the file: the order of programs.
	keys map[string][]string
	// lines are the line of each key path's first definition.
	lines map[string]int
}

// tomlError is a syntax or definition error at a line.
type tomlError struct {
	line int
	msg  string
}

func (e *tomlError) Error() string { return e.msg }

// keyKind tells how a key was defined, which decides what may follow it.
type keyKind uint8

const (
	// kindTable is a table made by a header, or on the way to one.
	kindTable keyKind = iota
	// kindDotted is a table made by a dotted key (a.b = 1 makes a): more
	// dotted keys may add to it, a header may not define it.
	kindDotted
	// kindArray is an array of tables ([[a]]): headers go to its last one.
	kindArray
	// kindValue is anything else, inline tables and arrays included: it is
	// complete where it is written.
	kindValue
)

// docTable is a table while the document is read.
type docTable struct {
	path     string // key path, joined with NUL
	kind     keyKind
	explicit bool // defined by its own header (or [[...]] element)
	vals     map[string]any
	kinds    map[string]keyKind
	order    []string
	// elems are an array of tables' tables (kind kindArray).
	elems []*docTable
	// inline is set in an inline table and below it: its keys are part of
	// a value, not of the document's lines and orders.
	inline bool
}

func newDocTable(path string, kind keyKind) *docTable {
	return &docTable{path: path, kind: kind, vals: map[string]any{}, kinds: map[string]keyKind{}}
}

// sub makes the table for key k of t.
func (t *docTable) sub(k string, kind keyKind) *docTable {
	s := newDocTable(subPath(t.path, k), kind)
	s.inline = t.inline
	return s
}

type docReader struct {
	p    *unstable.Parser
	doc  *tomlDoc
	root *docTable
	cur  *docTable
	// lineOff is the offset whose line is lineNo (lineAt).
	lineOff, lineNo int
}

// decodeTOML reads data as a TOML document.
func decodeTOML(data []byte) (*tomlDoc, error) {
	r := &docReader{p: &unstable.Parser{}, doc: &tomlDoc{keys: map[string][]string{}, lines: map[string]int{}}}
	r.root = newDocTable("", kindTable)
	r.cur = r.root
	r.lineNo = 1
	r.p.Reset(data)
	for r.p.NextExpression() {
		e := r.p.Expression()
		var err error
		switch e.Kind {
		case unstable.KeyValue:
			err = r.keyValue(r.cur, e)
		case unstable.Table:
			err = r.header(e, false)
		case unstable.ArrayTable:
			err = r.header(e, true)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := r.p.Error(); err != nil {
		var pe *unstable.ParserError
		if errors.As(err, &pe) {
			return nil, &tomlError{line: r.lineOfBytes(pe.Highlight), msg: pe.Message}
		}
		return nil, err
	}
	r.doc.root = r.finish(r.root)
	return r.doc, nil
}

func (r *docReader) lineOfBytes(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	return r.lineAt(int(r.p.Range(b).Offset))
}

func (r *docReader) line(n *unstable.Node) int {
	return r.lineAt(int(n.Raw.Offset))
}

// lineAt is the line of a byte offset. Offsets come in order as the
// document is read, so it counts on from the last one (the parser's Shape
// counts from the start: quadratic over a file).
func (r *docReader) lineAt(off int) int {
	data := r.p.Data()
	if off > len(data) {
		off = len(data)
	}
	if off < r.lineOff {
		r.lineOff, r.lineNo = 0, 1
	}
	r.lineNo += bytes.Count(data[r.lineOff:off], []byte{'\n'})
	r.lineOff = off
	return r.lineNo
}

func (r *docReader) errorf(n *unstable.Node, format string, args ...any) error {
	return &tomlError{line: r.line(n), msg: fmt.Sprintf(format, args...)}
}

// keyOf returns the parts of n's key, and the node of each.
func keyOf(n *unstable.Node) ([]string, []*unstable.Node) {
	var parts []string
	var nodes []*unstable.Node
	it := n.Key()
	for it.Next() {
		k := it.Node()
		parts = append(parts, string(k.Data))
		nodes = append(nodes, k)
	}
	return parts, nodes
}

func subPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "\x00" + key
}

// add defines key in t, recording its line and its place in t's order.
func (r *docReader) add(t *docTable, key string, v any, kind keyKind, line int) {
	t.vals[key] = v
	t.kinds[key] = kind
	if t.inline {
		return
	}
	t.order = append(t.order, key)
	path := subPath(t.path, key)
	if _, ok := r.doc.lines[path]; !ok {
		r.doc.lines[path] = line
	}
}

// header makes [a.b.c] (or [[a.b.c]]) the current table.
func (r *docReader) header(e *unstable.Node, array bool) error {
	parts, nodes := keyOf(e)
	t := r.root
	line := r.line(nodes[0]) // a header node has no range of its own
	for i, k := range parts {
		last := i == len(parts)-1
		v, ok := t.vals[k]
		if !ok {
			switch {
			case !last:
				sub := t.sub(k, kindTable)
				r.add(t, k, sub, kindTable, line)
				t = sub
			case array:
				arr := t.sub(k, kindArray)
				r.add(t, k, arr, kindArray, line)
				t = arr.push()
			default:
				sub := t.sub(k, kindTable)
				sub.explicit = true
				r.add(t, k, sub, kindTable, line)
				t = sub
			}
			continue
		}
		kind := t.kinds[k]
		if kind == kindValue && last && array {
			return r.errorf(nodes[i], "key %s is already defined, and not as an array of tables", describeKey(parts))
		}
		if kind == kindValue {
			return r.errorf(nodes[i], "key %s already has a value that is not a table", describeKey(parts[:i+1]))
		}
		sub := v.(*docTable)
		if !last {
			t = sub
			if kind == kindArray {
				t = sub.elems[len(sub.elems)-1]
			}
			continue
		}
		switch {
		case array && kind != kindArray:
			return r.errorf(nodes[i], "key %s is already defined, and not as an array of tables", describeKey(parts))
		case array:
			t = sub.push()
		case kind == kindArray:
			return r.errorf(nodes[i], "table %s is already defined as an array of tables", describeKey(parts))
		case kind == kindDotted:
			return r.errorf(nodes[i], "table %s is already defined by a dotted key", describeKey(parts))
		case sub.explicit:
			return r.errorf(nodes[i], "table %s is defined twice", describeKey(parts))
		default:
			sub.explicit = true
			t = sub
		}
	}
	r.cur = t
	return nil
}

// push adds a table to an array of tables and returns it.
func (a *docTable) push() *docTable {
	t := newDocTable(a.path, kindTable)
	t.explicit = true
	a.elems = append(a.elems, t)
	return t
}

// keyValue defines a (possibly dotted) key of t.
func (r *docReader) keyValue(t *docTable, e *unstable.Node) error {
	parts, nodes := keyOf(e)
	// Lines before the value, which may hold keys of its own: lineAt
	// counts on from the last offset asked. Keys of an inline table have
	// none.
	line, keyLine := 0, 0
	if !t.inline {
		line, keyLine = r.line(nodes[0]), r.line(nodes[len(nodes)-1])
	}
	for i, k := range parts[:len(parts)-1] {
		v, ok := t.vals[k]
		if !ok {
			sub := t.sub(k, kindDotted)
			r.add(t, k, sub, kindDotted, line)
			t = sub
			continue
		}
		if t.kinds[k] != kindDotted {
			return r.errorf(nodes[i], "key %s is already defined", describeKey(parts[:i+1]))
		}
		t = v.(*docTable)
	}
	k := parts[len(parts)-1]
	if _, ok := t.vals[k]; ok {
		return r.errorf(nodes[len(nodes)-1], "key %s is already defined", describeKey(parts))
	}
	v, err := r.value(e.Value())
	if err != nil {
		return err
	}
	r.add(t, k, v, kindValue, keyLine)
	return nil
}

// value decodes a value node.
func (r *docReader) value(n *unstable.Node) (any, error) {
	switch n.Kind {
	case unstable.String:
		return string(n.Data), nil
	case unstable.Bool:
		return string(n.Data) == "true", nil
	case unstable.Integer:
		return r.integer(n)
	case unstable.Float:
		return r.float(n)
	case unstable.LocalDate, unstable.LocalTime, unstable.LocalDateTime, unstable.DateTime:
		return r.datetime(n)
	case unstable.Array:
		out := []any{}
		it := n.Children()
		for it.Next() {
			v, err := r.value(it.Node())
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case unstable.InlineTable:
		t := newDocTable("", kindValue)
		t.inline = true
		it := n.Children()
		for it.Next() {
			if err := r.keyValue(t, it.Node()); err != nil {
				return nil, err
			}
		}
		return r.finish(t), nil
	}
	return nil, r.errorf(n, "unexpected %s", n.Kind)
}

func (r *docReader) integer(n *unstable.Node) (any, error) {
	s, base := strings.ReplaceAll(string(n.Data), "_", ""), 10
	if len(s) > 2 && s[0] == '0' {
		switch s[1] {
		case 'x':
			base = 16
		case 'o':
			base = 8
		case 'b':
			base = 2
		}
		if base != 10 {
			s = s[2:]
		}
	}
	v, err := strconv.ParseInt(s, base, 64)
	if err != nil {
		return nil, r.errorf(n, "integer %s is out of range (a TOML integer is 64 bits)", n.Data)
	}
	return v, nil
}

func (r *docReader) float(n *unstable.Node) (any, error) {
	s := strings.ReplaceAll(string(n.Data), "_", "")
	switch strings.TrimLeft(s, "+-") {
	case "inf":
		if s[0] == '-' {
			return math.Inf(-1), nil
		}
		return math.Inf(1), nil
	case "nan":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, r.errorf(n, "float %s is out of range", n.Data)
	}
	return v, nil
}

// datetime checks a date or time and returns it as a time.Time (local
// ones in UTC). No corral setting takes one, but a document holding one
// must still be read as TOML reads it, with its checks: a real date, hours
// to 23, minutes and seconds to 59, seconds optional (TOML 1.1), at most
// nanoseconds kept.
func (r *docReader) datetime(n *unstable.Node) (any, error) {
	s := string(n.Data)
	var date, clock, zone string
	switch n.Kind {
	case unstable.LocalDate:
		date = s
	case unstable.LocalTime:
		clock = s
	default:
		if len(s) < 11 {
			return nil, r.errorf(n, "invalid date and time %s", s)
		}
		date, clock = s[:10], s[11:]
		if n.Kind == unstable.DateTime {
			i := strings.LastIndexAny(clock, "Zz+-")
			if i < 0 {
				return nil, r.errorf(n, "invalid date and time %s", s)
			}
			clock, zone = clock[:i], clock[i:]
		}
	}
	y, mo, d := 1, 1, 1
	if date != "" {
		if len(date) != 10 || date[4] != '-' || date[7] != '-' {
			return nil, r.errorf(n, "invalid date %s (want YYYY-MM-DD)", s)
		}
		y, mo, d = digits(date[0:4]), digits(date[5:7]), digits(date[8:10])
		if y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysIn(time.Month(mo), y) {
			return nil, r.errorf(n, "impossible date %s", s)
		}
	}
	var h, mi, sec, nsec int
	if n.Kind != unstable.LocalDate {
		if len(clock) < 5 || clock[2] != ':' {
			return nil, r.errorf(n, "invalid time %s (want HH:MM[:SS[.frac]])", s)
		}
		h, mi = digits(clock[0:2]), digits(clock[3:5])
		rest := clock[5:]
		if rest != "" {
			if len(rest) < 3 || rest[0] != ':' {
				return nil, r.errorf(n, "invalid time %s (want HH:MM[:SS[.frac]])", s)
			}
			sec, rest = digits(rest[1:3]), rest[3:]
		}
		if rest != "" {
			frac := rest[1:]
			if rest[0] != '.' || digits(frac) < 0 {
				return nil, r.errorf(n, "invalid time %s", s)
			}
			for i := range 9 {
				nsec *= 10
				if i < len(frac) {
					nsec += int(frac[i] - '0')
				}
			}
		}
		if h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 {
			return nil, r.errorf(n, "impossible time %s", s)
		}
	}
	loc := time.UTC
	if zone != "" && zone != "Z" && zone != "z" {
		if len(zone) != 6 || zone[0] != '+' && zone[0] != '-' || zone[3] != ':' {
			return nil, r.errorf(n, "invalid time offset %s", s)
		}
		oh, om := digits(zone[1:3]), digits(zone[4:6])
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return nil, r.errorf(n, "impossible time offset %s", s)
		}
		off := oh*3600 + om*60
		if zone[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, nsec, loc), nil
}

// digits is the value of a run of decimal digits, or -1.
func digits(s string) int {
	if s == "" {
		return -1
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		if v < 1e8 {
			v = v*10 + int(s[i]-'0')
		}
	}
	return v
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// finish turns t into the map of its values, recording the order of its
// keys.
func (r *docReader) finish(t *docTable) map[string]any {
	if !t.inline {
		r.doc.keys[t.path] = t.order
	}
	out := make(map[string]any, len(t.vals))
	for k, v := range t.vals {
		switch x := v.(type) {
		case *docTable:
			if x.kind == kindArray {
				arr := make([]map[string]any, len(x.elems))
				for i, e := range x.elems {
					arr[i] = r.finish(e)
				}
				out[k] = arr
				continue
			}
			out[k] = r.finish(x)
		default:
			out[k] = v
		}
	}
	return out
}

// describeKey writes a key path as TOML would.
func describeKey(parts []string) string {
	quoted := make([]string, len(parts))
	for i, p := range parts {
		quoted[i] = p
		if p == "" || strings.IndexFunc(p, func(c rune) bool {
			return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-')
		}) >= 0 {
			quoted[i] = strconv.Quote(p)
		}
	}
	return strings.Join(quoted, ".")
}
