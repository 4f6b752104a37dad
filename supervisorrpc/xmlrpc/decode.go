package xmlrpc

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

const (
	// MaxBodySize is the largest document, in bytes, that DecodeCall reads.
	MaxBodySize = 1 << 20
	// MaxDepth is how deep arrays and structs may nest, in decoded
	// parameters and in encoded results alike. A scalar parameter is at
	// depth 0; an array of scalars at depth 1.
	MaxDepth = 32
)

// ErrTooLarge is returned (wrapped) by DecodeCall when the body is longer
// than MaxBodySize.
var ErrTooLarge = fmt.Errorf("xmlrpc: body exceeds %d bytes", MaxBodySize)

// dateTimeLayout is what Python's xmlrpc.client writes for a datetime; it
// carries no zone.
const dateTimeLayout = "20060102T15:04:05"

// DecodeCall reads one <methodCall> document from r, at most MaxBodySize
// bytes, and returns the method name and parameters (see the package
// documentation for the Go type of each XML-RPC type). A call without
// <params> has no parameters. Errors start with "xmlrpc: " and name what was
// wrong, e.g. `xmlrpc: param 2: <int> "abc": invalid integer`.
func DecodeCall(r io.Reader) (method string, params []any, err error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBodySize+1))
	if err != nil {
		return "", nil, fmt.Errorf("xmlrpc: read body: %w", err)
	}
	if len(data) > MaxBodySize {
		return "", nil, ErrTooLarge
	}
	var m message
	if err := parse(data, "methodCall", &m); err != nil {
		return "", nil, err
	}
	return m.method, m.params, nil
}

// message is a decoded document: a call (method, params) or a response
// (params with one value, or fault).
type message struct {
	method string
	params []any
	fault  *Fault
}

// decodeResponse reads a <methodResponse>: its one value, or its fault as
// the error. The endpoint never needs it; tests use it to prove that what
// the encoder writes decodes back.
func decodeResponse(data []byte) (any, error) {
	var m message
	if err := parse(data, "methodResponse", &m); err != nil {
		return nil, err
	}
	if m.fault != nil {
		return nil, m.fault
	}
	return m.params[0], nil
}

type parser struct {
	d     *xml.Decoder
	depth int // arrays and structs currently open
}

// parse decodes the document in data, whose root must be root, into m.
func parse(data []byte, root string, m *message) error {
	p := &parser{d: xml.NewDecoder(bytes.NewReader(data))}
	p.d.Strict = true
	if err := p.document(root, m); err != nil {
		return fmt.Errorf("xmlrpc: %w", err)
	}
	return nil
}

// token returns the next token that matters: comments are skipped, and
// anything that could change how the rest is read (DOCTYPE and other
// directives, processing instructions after the XML declaration) is refused.
func (p *parser) token() (xml.Token, error) {
	for {
		t, err := p.d.Token()
		if err == io.EOF {
			return nil, errors.New("unexpected end of document")
		}
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.Comment:
			continue
		case xml.Directive:
			return nil, errors.New("DOCTYPE and other <!...> directives are not allowed")
		case xml.ProcInst:
			return nil, fmt.Errorf("processing instruction <?%s?> not allowed here", t.Target)
		case xml.StartElement:
			if t.Name.Space != "" {
				return nil, fmt.Errorf("element <%s:%s>: namespaces are not allowed", t.Name.Space, t.Name.Local)
			}
			if len(t.Attr) > 0 {
				return nil, fmt.Errorf("element <%s>: attributes are not allowed", t.Name.Local)
			}
			return t, nil
		default:
			// CharData aliases the decoder's buffer: callers copy it
			// before reading on.
			return t, nil
		}
	}
}

// structural returns the next token that is not whitespace between
// elements; any other text there is an error.
func (p *parser) structural(where string) (xml.Token, error) {
	for {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		if cd, ok := t.(xml.CharData); ok {
			if len(bytes.TrimSpace(cd)) != 0 {
				return nil, fmt.Errorf("%s: unexpected text %q", where, truncate(string(cd)))
			}
			continue
		}
		return t, nil
	}
}

// start reads the start of the element named name.
func (p *parser) start(name, where string) error {
	t, err := p.structural(where)
	if err != nil {
		return err
	}
	se, ok := t.(xml.StartElement)
	if !ok || se.Name.Local != name {
		return fmt.Errorf("%s: want <%s>, found %s", where, name, describe(t))
	}
	return nil
}

// end reads the end of the element that is open (the decoder has already
// checked that end tags match their start tags).
func (p *parser) end(where string) error {
	t, err := p.structural(where)
	if err != nil {
		return err
	}
	if _, ok := t.(xml.EndElement); !ok {
		return fmt.Errorf("%s: unexpected %s", where, describe(t))
	}
	return nil
}

// text reads the text content of the element just opened, up to its end;
// the element may not contain elements.
func (p *parser) text(elem string) (string, error) {
	var sb strings.Builder
	for {
		t, err := p.token()
		if err != nil {
			return "", err
		}
		switch t := t.(type) {
		case xml.CharData:
			sb.Write(t)
		case xml.EndElement:
			return sb.String(), nil
		default:
			return "", fmt.Errorf("<%s>: unexpected %s", elem, describe(t))
		}
	}
}

func (p *parser) document(root string, m *message) error {
	// Only the XML declaration may come before the root element, and only
	// first.
	t, err := p.d.Token()
	if err != nil {
		return fmt.Errorf("not an XML document: %w", err)
	}
	switch tt := t.(type) {
	case xml.ProcInst:
		if tt.Target != "xml" {
			return fmt.Errorf("processing instruction <?%s?> not allowed here", tt.Target)
		}
		t, err = p.structural("document")
	case xml.Comment:
		t, err = p.structural("document")
	case xml.CharData:
		if len(bytes.TrimSpace(tt)) == 0 {
			t, err = p.structural("document")
		}
	case xml.Directive:
		return errors.New("DOCTYPE and other <!...> directives are not allowed")
	}
	if err != nil {
		return err
	}
	se, ok := t.(xml.StartElement)
	if !ok || se.Name.Local != root {
		return fmt.Errorf("want <%s> document, found %s", root, describe(t))
	}
	if se.Name.Space != "" || len(se.Attr) > 0 {
		return fmt.Errorf("<%s>: namespaces and attributes are not allowed", root)
	}
	if root == "methodCall" {
		err = p.call(m)
	} else {
		err = p.response(m)
	}
	if err != nil {
		return err
	}
	// Nothing but whitespace and comments may follow the root element.
	for {
		t, err := p.d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := t.(type) {
		case xml.Comment:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return fmt.Errorf("text %q after </%s>", truncate(string(t)), root)
			}
		default:
			return fmt.Errorf("%s after </%s>", describe(t), root)
		}
	}
}

func (p *parser) call(m *message) error {
	if err := p.start("methodName", "<methodCall>"); err != nil {
		return err
	}
	name, err := p.text("methodName")
	if err != nil {
		return err
	}
	if err := checkMethodName(name); err != nil {
		return err
	}
	m.method = name
	m.params = []any{}
	t, err := p.structural("<methodCall>")
	if err != nil {
		return err
	}
	switch t := t.(type) {
	case xml.EndElement:
		return nil // no <params>: supervisord accepts it, so do we
	case xml.StartElement:
		if t.Name.Local != "params" {
			return fmt.Errorf("<methodCall>: want <params>, found %s", describe(t))
		}
	default:
		return fmt.Errorf("<methodCall>: unexpected %s", describe(t))
	}
	for {
		t, err := p.structural("<params>")
		if err != nil {
			return err
		}
		if _, ok := t.(xml.EndElement); ok {
			break
		}
		if se, ok := t.(xml.StartElement); !ok || se.Name.Local != "param" {
			return fmt.Errorf("<params>: want <param>, found %s", describe(t))
		}
		v, err := p.param()
		if err != nil {
			return fmt.Errorf("param %d: %w", len(m.params)+1, err)
		}
		m.params = append(m.params, v)
	}
	return p.end("<methodCall>")
}

// param reads the inside of a <param> element and its end.
func (p *parser) param() (any, error) {
	if err := p.start("value", "<param>"); err != nil {
		return nil, err
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	return v, p.end("<param>")
}

func (p *parser) response(m *message) error {
	t, err := p.structural("<methodResponse>")
	if err != nil {
		return err
	}
	se, ok := t.(xml.StartElement)
	switch {
	case ok && se.Name.Local == "params":
		if err := p.start("param", "<params>"); err != nil {
			return err
		}
		v, err := p.param()
		if err != nil {
			return fmt.Errorf("result: %w", err)
		}
		m.params = []any{v}
		if err := p.end("<params>"); err != nil {
			return err
		}
	case ok && se.Name.Local == "fault":
		if err := p.start("value", "<fault>"); err != nil {
			return err
		}
		v, err := p.value()
		if err != nil {
			return fmt.Errorf("fault: %w", err)
		}
		if m.fault, err = faultFromValue(v); err != nil {
			return err
		}
		if err := p.end("<fault>"); err != nil {
			return err
		}
	default:
		return fmt.Errorf("<methodResponse>: want <params> or <fault>, found %s", describe(t))
	}
	return p.end("<methodResponse>")
}

func faultFromValue(v any) (*Fault, error) {
	s, ok := v.(map[string]any)
	if !ok || len(s) != 2 {
		return nil, errors.New("fault: want a struct of faultCode and faultString")
	}
	code, ok1 := s["faultCode"].(int)
	str, ok2 := s["faultString"].(string)
	if !ok1 || !ok2 {
		return nil, errors.New("fault: want a struct of faultCode (int) and faultString (string)")
	}
	return &Fault{Code: code, String: str}, nil
}

// value reads the inside of a <value> element, which has been opened, and
// its end.
func (p *parser) value() (any, error) {
	var sb strings.Builder
	for {
		t, err := p.token()
		if err != nil {
			return nil, err
		}
		switch t := t.(type) {
		case xml.CharData:
			sb.Write(t)
		case xml.EndElement:
			// An untyped value is a string.
			return sb.String(), nil
		case xml.StartElement:
			if strings.TrimSpace(sb.String()) != "" {
				return nil, fmt.Errorf("<value>: text %q beside <%s>", truncate(sb.String()), t.Name.Local)
			}
			v, err := p.typed(t.Name.Local)
			if err != nil {
				return nil, err
			}
			return v, p.end("<value>")
		default:
			return nil, fmt.Errorf("<value>: unexpected %s", describe(t))
		}
	}
}

// typed reads a typed value whose start tag <elem> has been read, up to and
// including its end tag.
func (p *parser) typed(elem string) (any, error) {
	switch elem {
	case "array":
		return p.array()
	case "struct":
		return p.strct()
	}
	s, err := p.text(elem)
	if err != nil {
		return nil, err
	}
	switch elem {
	case "int", "i4", "i8":
		// Python's int() ignores surrounding whitespace; so do we.
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, strconv.IntSize)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return nil, fmt.Errorf("<%s> %q: integer out of range", elem, truncate(s))
			}
			return nil, fmt.Errorf("<%s> %q: invalid integer", elem, truncate(s))
		}
		return int(n), nil
	case "boolean":
		switch s {
		case "0":
			return false, nil
		case "1":
			return true, nil
		}
		return nil, fmt.Errorf("<boolean> %q: want 0 or 1", truncate(s))
	case "string":
		return s, nil
	case "double":
		f, err := parseDouble(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("<double> %q: %w", truncate(s), err)
		}
		return f, nil
	case "dateTime.iso8601":
		t, err := time.Parse(dateTimeLayout, s)
		if err != nil {
			return nil, fmt.Errorf("<dateTime.iso8601> %q: want YYYYMMDDTHH:MM:SS", truncate(s))
		}
		return t, nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(stripSpace(s))
		if err != nil {
			return nil, fmt.Errorf("<base64>: invalid base64: %w", err)
		}
		return b, nil
	case "nil":
		if s != "" {
			return nil, fmt.Errorf("<nil> %q: must be empty", truncate(s))
		}
		return nil, nil
	}
	return nil, fmt.Errorf("unsupported type <%s>", elem)
}

func (p *parser) nest(elem string) error {
	p.depth++
	if p.depth > MaxDepth {
		return fmt.Errorf("<%s>: arrays and structs nest deeper than %d", elem, MaxDepth)
	}
	return nil
}

func (p *parser) array() (any, error) {
	if err := p.nest("array"); err != nil {
		return nil, err
	}
	if err := p.start("data", "<array>"); err != nil {
		return nil, err
	}
	a := []any{}
	for {
		t, err := p.structural("<data>")
		if err != nil {
			return nil, err
		}
		if _, ok := t.(xml.EndElement); ok {
			break
		}
		if se, ok := t.(xml.StartElement); !ok || se.Name.Local != "value" {
			return nil, fmt.Errorf("<data>: want <value>, found %s", describe(t))
		}
		v, err := p.value()
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", len(a)+1, err)
		}
		a = append(a, v)
	}
	p.depth--
	return a, p.end("<array>")
}

func (p *parser) strct() (any, error) {
	if err := p.nest("struct"); err != nil {
		return nil, err
	}
	s := map[string]any{}
	for {
		t, err := p.structural("<struct>")
		if err != nil {
			return nil, err
		}
		if _, ok := t.(xml.EndElement); ok {
			break
		}
		if se, ok := t.(xml.StartElement); !ok || se.Name.Local != "member" {
			return nil, fmt.Errorf("<struct>: want <member>, found %s", describe(t))
		}
		if err := p.start("name", "<member>"); err != nil {
			return nil, fmt.Errorf("member %d: %w", len(s)+1, err)
		}
		name, err := p.text("name")
		if err != nil {
			return nil, fmt.Errorf("member %d: %w", len(s)+1, err)
		}
		if _, dup := s[name]; dup {
			return nil, fmt.Errorf("member %q: duplicate name", truncate(name))
		}
		if err := p.start("value", "<member>"); err != nil {
			return nil, fmt.Errorf("member %q: %w", truncate(name), err)
		}
		v, err := p.value()
		if err != nil {
			return nil, fmt.Errorf("member %q: %w", truncate(name), err)
		}
		if err := p.end("<member>"); err != nil {
			return nil, fmt.Errorf("member %q: %w", truncate(name), err)
		}
		s[name] = v
	}
	p.depth--
	return s, nil
}

// parseDouble accepts a decimal number with optional sign, fraction and
// exponent (Python writes 1e+16), and nothing else that strconv would take:
// no hexadecimal, underscores, infinities or NaN.
func parseDouble(s string) (float64, error) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && isDigit(s[i]); i++ {
			digits++
		}
	}
	if digits == 0 {
		return 0, errors.New("invalid number")
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for ; i < len(s) && isDigit(s[i]); i++ {
			exp++
		}
		if exp == 0 {
			return 0, errors.New("invalid number")
		}
	}
	if i != len(s) {
		return 0, errors.New("invalid number")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// Only ErrRange is possible here; underflow to 0 is not an error.
		return 0, errors.New("number out of range")
	}
	return f, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
}

// checkMethodName enforces the XML-RPC specification's alphabet for method
// names.
func checkMethodName(name string) error {
	if name == "" {
		return errors.New("<methodName>: empty")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.IndexByte("_.:/", c) >= 0) {
			return fmt.Errorf("<methodName> %q: only letters, digits and _ . : / are allowed", truncate(name))
		}
	}
	return nil
}

// describe names a token in an error message.
func describe(t xml.Token) string {
	switch t := t.(type) {
	case xml.StartElement:
		return "<" + t.Name.Local + ">"
	case xml.EndElement:
		return "</" + t.Name.Local + ">"
	case xml.CharData:
		return fmt.Sprintf("text %q", truncate(string(t)))
	case xml.ProcInst:
		return "<?" + t.Target + "?>"
	case xml.Directive:
		return "<!...> directive"
	case xml.Comment:
		return "comment"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%T", t)
}

// truncate keeps error messages short when the input is not.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
