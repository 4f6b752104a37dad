package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
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
	root *docTable
}

// values returns the document's top-level table.
func (d *tomlDoc) values() map[string]any { return d.root.vals }

// table returns the table at path (the first of an array of tables), or
// nil.
func (d *tomlDoc) table(path ...string) *docTable {
	t := d.root
	for _, k := range path {
		if t = t.subs[k]; t == nil {
			return nil
		}
		if t.kind == kindArray {
			t = t.elems[0]
		}
	}
	return t
}

// keys returns the keys of the table at path in the order they first
// appear in the file (the order of programs), or nil.
func (d *tomlDoc) keys(path ...string) []string {
	if t := d.table(path...); t != nil {
		return t.order
	}
	return nil
}

// line returns the line where the key path was first defined, or 0 (no
// such key, or one inside an inline table).
func (d *tomlDoc) line(path ...string) int {
	if len(path) == 0 {
		return 0
	}
	t := d.table(path[:len(path)-1]...)
	if t == nil {
		return 0
	}
	return t.lineOf(path[len(path)-1])
}

// lineOf returns the line of t's key k, or 0. A table of many keys (the
// programs of a large file) gets an index at its first question, rather
// than a scan of its keys for each.
func (t *docTable) lineOf(k string) int {
	if len(t.order) <= 16 {
		if i := slices.Index(t.order, k); i >= 0 {
			return int(t.lines[i])
		}
		return 0
	}
	if t.index == nil {
		t.index = make(map[string]int, len(t.order))
	}
	for ; t.indexed < len(t.order); t.indexed++ {
		if _, ok := t.index[t.order[t.indexed]]; !ok {
			t.index[t.order[t.indexed]] = t.indexed
		}
	}
	if i, ok := t.index[k]; ok {
		return int(t.lines[i])
	}
	return 0
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

// docTable is a table of the document.
type docTable struct {
	kind     keyKind
	explicit bool // defined by its own header (or [[...]] element)
	// inline is set in an inline table and below it: its keys are part of
	// a value, with no order or lines kept.
	inline bool
	// vals are the table's values as ParseTOML reads them: a sub-table as
	// its vals, an array of tables as a []map[string]any.
	vals map[string]any
	// subs are the tables among them (nil until the first), whose kind
	// tells what may be added to them; any other key is a kindValue.
	subs map[string]*docTable
	// order holds the keys in the order of their first definition, and
	// lines the line of each.
	order []string
	lines []int32
	// index maps a key to its place in order, from lineOf's first use on
	// a table of many keys; it holds the first indexed keys of order.
	index   map[string]int
	indexed int
	// elems are an array of tables' tables (kind kindArray).
	elems []*docTable
}

func newDocTable(kind keyKind, inline bool) *docTable {
	return &docTable{kind: kind, inline: inline, vals: map[string]any{}}
}

// kindOf returns the kind of key k of t, and whether t has it.
func (t *docTable) kindOf(k string) (keyKind, bool) {
	if sub, ok := t.subs[k]; ok {
		return sub.kind, true
	}
	_, ok := t.vals[k]
	return kindValue, ok
}

type docReader struct {
	p    *unstable.Parser
	root *docTable
	cur  *docTable
	// lineOff is the offset whose line is lineNo (lineAt).
	lineOff, lineNo int
	// keyParts and keyNodes are keyOf's, reused from key to key.
	keyParts []string
	keyNodes []*unstable.Node
}

// decodeTOML reads data as a TOML document.
func decodeTOML(data []byte) (*tomlDoc, error) {
	r := &docReader{p: &unstable.Parser{}, lineNo: 1}
	r.root = newDocTable(kindTable, false)
	r.cur = r.root
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
	return &tomlDoc{root: r.root}, nil
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

// keyOf returns the parts of n's key, and the node of each. Both slices are
// r's, valid until its next keyOf: a key costs no allocation but its parts'
// strings (a fourth of a configuration's allocations, when each key made
// its two slices).
func (r *docReader) keyOf(n *unstable.Node) ([]string, []*unstable.Node) {
	parts, nodes := r.keyParts[:0], r.keyNodes[:0]
	it := n.Key()
	for it.Next() {
		k := it.Node()
		parts = append(parts, string(k.Data))
		nodes = append(nodes, k)
	}
	r.keyParts, r.keyNodes = parts, nodes
	return parts, nodes
}

// add defines key k of t: a value v, or the table sub (v nil).
func (t *docTable) add(k string, v any, sub *docTable, line int) {
	if sub != nil {
		if t.subs == nil {
			t.subs = map[string]*docTable{}
		}
		t.subs[k] = sub
		v = sub.vals
		if sub.kind == kindArray {
			v = []map[string]any{}
		}
	}
	t.vals[k] = v
	if !t.inline {
		t.order = append(t.order, k)
		t.lines = append(t.lines, int32(line))
	}
}

// header makes [a.b.c] (or [[a.b.c]]) the current table.
func (r *docReader) header(e *unstable.Node, array bool) error {
	parts, nodes := r.keyOf(e)
	t := r.root
	line := r.line(nodes[0]) // a header node has no range of its own
	for i, k := range parts {
		last := i == len(parts)-1
		kind, ok := t.kindOf(k)
		if !ok {
			switch {
			case !last:
				sub := newDocTable(kindTable, false)
				t.add(k, nil, sub, line)
				t = sub
			case array:
				arr := newDocTable(kindArray, false)
				t.add(k, nil, arr, line)
				t = t.push(k, arr)
			default:
				sub := newDocTable(kindTable, false)
				sub.explicit = true
				t.add(k, nil, sub, line)
				t = sub
			}
			continue
		}
		if kind == kindValue && last && array {
			return r.errorf(nodes[i], "key %s is already defined, and not as an array of tables", describeKey(parts))
		}
		if kind == kindValue {
			return r.errorf(nodes[i], "key %s already has a value that is not a table", describeKey(parts[:i+1]))
		}
		sub := t.subs[k]
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
			t = t.push(k, sub)
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

// push adds a table to arr, the array of tables at key k of t, and
// returns it.
func (t *docTable) push(k string, arr *docTable) *docTable {
	e := newDocTable(kindTable, false)
	e.explicit = true
	arr.elems = append(arr.elems, e)
	t.vals[k] = append(t.vals[k].([]map[string]any), e.vals)
	return e
}

// keyValue defines a (possibly dotted) key of t.
func (r *docReader) keyValue(t *docTable, e *unstable.Node) error {
	parts, nodes := r.keyOf(e)
	// Lines before the value, which may hold keys of its own: lineAt
	// counts on from the last offset asked. Keys of an inline table have
	// none.
	line, keyLine := 0, 0
	if !t.inline {
		line, keyLine = r.line(nodes[0]), r.line(nodes[len(nodes)-1])
	}
	for i, k := range parts[:len(parts)-1] {
		kind, ok := t.kindOf(k)
		if !ok {
			sub := newDocTable(kindDotted, t.inline)
			t.add(k, nil, sub, line)
			t = sub
			continue
		}
		if kind != kindDotted {
			return r.errorf(nodes[i], "key %s is already defined", describeKey(parts[:i+1]))
		}
		t = t.subs[k]
	}
	k := parts[len(parts)-1]
	if _, ok := t.vals[k]; ok {
		return r.errorf(nodes[len(nodes)-1], "key %s is already defined", describeKey(parts))
	}
	// An inline table's keys are read by r.keyOf too: parts and nodes
	// are not used past this point.
	v, err := r.value(e.Value())
	if err != nil {
		return err
	}
	t.add(k, v, nil, keyLine)
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
		t := newDocTable(kindValue, true)
		it := n.Children()
		for it.Next() {
			if err := r.keyValue(t, it.Node()); err != nil {
				return nil, err
			}
		}
		return t.vals, nil
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
