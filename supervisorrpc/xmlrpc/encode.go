package xmlrpc

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The framing Python's xmlrpc.client.dumps writes around a response.
const (
	xmlHeader     = "<?xml version='1.0'?>\n"
	responseOpen  = xmlHeader + "<methodResponse>\n<params>\n<param>\n"
	responseClose = "</param>\n</params>\n</methodResponse>\n"
	faultOpen     = xmlHeader + "<methodResponse>\n<fault>\n"
	faultClose    = "</fault>\n</methodResponse>\n"
)

// EncodeResponse writes a <methodResponse> carrying v to w, byte for byte as
// Python's xmlrpc.client.dumps((v,), methodresponse=True) would, except that
// struct members are sorted by name. See the package documentation for the
// Go types it accepts; anything else, nil included, is an error and nothing
// is written.
func EncodeResponse(w io.Writer, v any) error {
	b, err := marshalResponse(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// EncodeFault writes a <methodResponse> carrying the fault f to w, byte for
// byte as Python's xmlrpc.client.dumps(Fault(code, string)) would.
func EncodeFault(w io.Writer, f *Fault) error {
	_, err := w.Write(marshalFault(f))
	return err
}

func marshalResponse(v any) ([]byte, error) {
	var b bytes.Buffer
	e := encoder{buf: &b}
	e.buf.WriteString(responseOpen)
	if err := e.value(v, 0); err != nil {
		return nil, fmt.Errorf("xmlrpc: encode result: %w", err)
	}
	e.buf.WriteString(responseClose)
	return b.Bytes(), nil
}

func marshalFault(f *Fault) []byte {
	var b bytes.Buffer
	e := encoder{buf: &b}
	e.buf.WriteString(faultOpen)
	// Cannot fail: an int and a string.
	_ = e.value(faultValue(f), 0)
	e.buf.WriteString(faultClose)
	return b.Bytes()
}

func faultValue(f *Fault) map[string]any {
	return map[string]any{"faultCode": f.Code, "faultString": f.String}
}

// encodedSize is the number of bytes v takes as a <value> element, counted
// without building it (an error counts as 0: the encoder refuses v anyway).
func encodedSize(v any) int64 {
	var c counter
	e := encoder{buf: &c}
	if e.value(v, 0) != nil {
		return 0
	}
	return int64(c)
}

// sink is where the encoder writes: a bytes.Buffer, or a counter.
type sink interface {
	Write(p []byte) (int, error)
	WriteString(s string) (int, error)
	WriteByte(c byte) error
	WriteRune(r rune) (int, error)
}

// counter is a sink that only counts bytes.
type counter int64

func (c *counter) Write(p []byte) (int, error)       { *c += counter(len(p)); return len(p), nil }
func (c *counter) WriteString(s string) (int, error) { *c += counter(len(s)); return len(s), nil }
func (c *counter) WriteByte(byte) error              { *c++; return nil }
func (c *counter) WriteRune(r rune) (int, error) {
	n := utf8.RuneLen(r)
	*c += counter(n)
	return n, nil
}

type encoder struct {
	buf sink
}

// value writes v as a <value> element followed by a newline, as Python does.
// depth counts the arrays and structs around v; it also stops a slice or map
// that contains itself.
func (e *encoder) value(v any, depth int) error {
	switch v := v.(type) {
	case nil:
		return errors.New("nil cannot be encoded (supervisord never returns nil)")
	case int:
		e.int(int64(v))
	case int32:
		e.int(int64(v))
	case int64:
		e.int(v)
	case bool:
		if v {
			e.buf.WriteString("<value><boolean>1</boolean></value>\n")
		} else {
			e.buf.WriteString("<value><boolean>0</boolean></value>\n")
		}
	case string:
		e.buf.WriteString("<value><string>")
		e.text(v)
		e.buf.WriteString("</string></value>\n")
	case float64:
		s, err := formatDouble(v)
		if err != nil {
			return err
		}
		e.buf.WriteString("<value><double>")
		e.buf.WriteString(s)
		e.buf.WriteString("</double></value>\n")
	case time.Time:
		t := v.UTC()
		if t.Year() < 0 || t.Year() > 9999 {
			return fmt.Errorf("time %s: year outside 0-9999", v)
		}
		e.buf.WriteString("<value><dateTime.iso8601>")
		e.buf.WriteString(t.Format(dateTimeLayout))
		e.buf.WriteString("</dateTime.iso8601></value>\n")
	case []byte:
		e.base64(v)
	case []any:
		return encodeArray(e, v, depth)
	case []string:
		return encodeArray(e, v, depth)
	case []int:
		return encodeArray(e, v, depth)
	case []map[string]any:
		return encodeArray(e, v, depth)
	case map[string]any:
		if depth >= MaxDepth {
			return fmt.Errorf("arrays and structs nest deeper than %d", MaxDepth)
		}
		e.buf.WriteString("<value><struct>\n")
		for _, k := range slices.Sorted(maps.Keys(v)) {
			e.buf.WriteString("<member>\n<name>")
			e.text(k)
			e.buf.WriteString("</name>\n")
			if err := e.value(v[k], depth+1); err != nil {
				return fmt.Errorf("member %q: %w", truncate(k), err)
			}
			e.buf.WriteString("</member>\n")
		}
		e.buf.WriteString("</struct></value>\n")
	default:
		return fmt.Errorf("cannot encode a %T", v)
	}
	return nil
}

func encodeArray[T any](e *encoder, a []T, depth int) error {
	if depth >= MaxDepth {
		return fmt.Errorf("arrays and structs nest deeper than %d", MaxDepth)
	}
	e.buf.WriteString("<value><array><data>\n")
	for i, v := range a {
		if err := e.value(v, depth+1); err != nil {
			return fmt.Errorf("element %d: %w", i+1, err)
		}
	}
	e.buf.WriteString("</data></array></value>\n")
	return nil
}

func (e *encoder) int(n int64) {
	e.buf.WriteString("<value><int>")
	e.buf.WriteString(strconv.FormatInt(n, 10))
	e.buf.WriteString("</int></value>\n")
}

// base64 writes b as Python's base64.encodebytes does: lines of at most 76
// characters, each ending in a newline.
func (e *encoder) base64(b []byte) {
	const lineBytes = 57 // 76 characters of base64
	e.buf.WriteString("<value><base64>\n")
	var line [76]byte
	for len(b) > 0 {
		n := min(len(b), lineBytes)
		base64.StdEncoding.Encode(line[:], b[:n])
		e.buf.Write(line[:base64.StdEncoding.EncodedLen(n)])
		e.buf.WriteByte('\n')
		b = b[n:]
	}
	e.buf.WriteString("</base64></value>\n")
}

// text writes s as XML character data. Like Python it escapes &, < and >.
// Unlike Python it writes CR as &#13; (a parser turns a literal CR into LF)
// and replaces what XML 1.0 cannot carry at all (most control characters,
// invalid UTF-8) with U+FFFD, where Python would send a document the client
// then fails to parse.
func (e *encoder) text(s string) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '&':
			e.buf.WriteString("&amp;")
		case r == '<':
			e.buf.WriteString("&lt;")
		case r == '>':
			e.buf.WriteString("&gt;")
		case r == '\r':
			e.buf.WriteString("&#13;")
		case r == utf8.RuneError && size == 1, !isXMLChar(r):
			e.buf.WriteRune(utf8.RuneError)
		default:
			e.buf.WriteString(s[i : i+size])
		}
		i += size
	}
}

// isXMLChar reports whether r is in XML 1.0's Char production.
func isXMLChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		0x20 <= r && r <= 0xD7FF ||
		0xE000 <= r && r <= 0xFFFD ||
		0x10000 <= r && r <= 0x10FFFF
}

// formatDouble formats f as Python's repr(float) does: the shortest digits
// that read back as f, positional between 1e-4 and 1e16 (always with a
// fractional part, "1.0"), scientific otherwise ("1e+16", "1e-05").
func formatDouble(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("double %v cannot be encoded", f)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	if x := sciExponent(s); x < -4 || x >= 16 {
		return s, nil
	}
	s = strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s, nil
}

// sciExponent returns the exponent of a number strconv formatted with 'e'.
func sciExponent(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == 'e' {
			n, _ := strconv.Atoi(s[i+1:])
			return n
		}
	}
	return 0
}
