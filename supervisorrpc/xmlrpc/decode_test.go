package xmlrpc

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var fixtureTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// call wraps value elements in a <methodCall> of method "m", one param each.
func call(values ...string) string {
	var b strings.Builder
	b.WriteString("<?xml version='1.0'?>\n<methodCall>\n<methodName>m</methodName>\n<params>\n")
	for _, v := range values {
		b.WriteString("<param>\n" + v + "\n</param>\n")
	}
	b.WriteString("</params>\n</methodCall>\n")
	return b.String()
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeCallReadsPythonCalls(t *testing.T) {
	tests := []struct {
		fixture string
		method  string
		params  []any
	}{
		{"call_start_process.xml", "supervisor.startProcess", []any{"foo", true, 3}},
		{"call_get_state.xml", "supervisor.getState", []any{}},
		{"call_read_log.xml", "supervisor.readProcessStdoutLog", []any{"web:web_0", -100, 0}},
		{"call_multicall.xml", "system.multicall", []any{[]any{
			map[string]any{"methodName": "supervisor.getProcessInfo", "params": []any{"web"}},
			map[string]any{"methodName": "supervisor.getState", "params": []any{}},
		}}},
		{"call_types.xml", "test.types", []any{
			-2147483648, 2147483647, false, "a<b>&c \"q\" 'é' ☃", 2.5, 0.0, 1e16, 1e-05,
			fixtureTime, bytes.Repeat([]byte("\x00\x01binary\xff"), 10), []any{}, map[string]any{},
			[]any{1, []any{"nested", []any{true}}},
			map[string]any{"a": 1, "b": map[string]any{"c": []any{nil}}},
			nil, "",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			method, params, err := DecodeCall(bytes.NewReader(readFixture(t, tt.fixture)))
			if err != nil {
				t.Fatal(err)
			}
			if method != tt.method {
				t.Errorf("method = %q, want %q", method, tt.method)
			}
			if !reflect.DeepEqual(params, tt.params) {
				t.Errorf("params =\n%#v\nwant\n%#v", params, tt.params)
			}
		})
	}
}

func TestDecodeCallDecodesEveryType(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  any
	}{
		{"int", "<value><int>42</int></value>", 42},
		{"i4", "<value><i4>-42</i4></value>", -42},
		{"i8", "<value><i8>9007199254740993</i8></value>", 9007199254740993},
		{"int with plus and spaces", "<value><int> +7\n</int></value>", 7},
		{"boolean true", "<value><boolean>1</boolean></value>", true},
		{"boolean false", "<value><boolean>0</boolean></value>", false},
		{"string", "<value><string>a &amp; b</string></value>", "a & b"},
		{"empty string element", "<value><string/></value>", ""},
		{"untyped string keeps spaces", "<value> x y </value>", " x y "},
		{"untyped empty", "<value></value>", ""},
		{"cdata", "<value><string><![CDATA[<raw>]]></string></value>", "<raw>"},
		{"char references", "<value><string>&#13;&#x263a;&quot;&apos;</string></value>", "\r☺\"'"},
		{"comment inside string", "<value><string>a<!-- c -->b</string></value>", "ab"},
		{"double", "<value><double>-1.5</double></value>", -1.5},
		{"double exponent", "<value><double>1e+16</double></value>", 1e16},
		{"double no fraction", "<value><double>3</double></value>", 3.0},
		{"double leading dot", "<value><double>.5</double></value>", 0.5},
		{"double underflow is zero", "<value><double>1e-400</double></value>", 0.0},
		{"dateTime", "<value><dateTime.iso8601>20240102T03:04:05</dateTime.iso8601></value>", fixtureTime},
		{"base64", "<value><base64>\naGVs\nbG8=\n</base64></value>", []byte("hello")},
		{"base64 empty", "<value><base64></base64></value>", []byte{}},
		{"array", "<value><array><data><value><int>1</int></value><value>s</value></data></array></value>", []any{1, "s"}},
		{"array empty", "<value><array><data/></array></value>", []any{}},
		{"struct", "<value><struct><member><name>k</name><value><int>1</int></value></member></struct></value>", map[string]any{"k": 1}},
		{"struct empty", "<value><struct></struct></value>", map[string]any{}},
		{"nil", "<value><nil/></value>", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, params, err := DecodeCall(strings.NewReader(call(tt.value)))
			if err != nil {
				t.Fatal(err)
			}
			if len(params) != 1 || !reflect.DeepEqual(params[0], tt.want) {
				t.Errorf("params = %#v, want [%#v]", params, tt.want)
			}
		})
	}
}

func TestDecodeCallAcceptsCallWithoutParams(t *testing.T) {
	method, params, err := DecodeCall(strings.NewReader("<methodCall><methodName>supervisor.getState</methodName></methodCall>"))
	if err != nil {
		t.Fatal(err)
	}
	if method != "supervisor.getState" || len(params) != 0 {
		t.Errorf("got %q %#v, want supervisor.getState and no params", method, params)
	}
}

func TestDecodeCallRejectsMalformedInput(t *testing.T) {
	tests := []struct {
		name  string
		input string
		err   string // the whole message, or a part of it
	}{
		{"bad int", call("<value><string>a</string></value>", `<value><int>abc</int></value>`), `xmlrpc: param 2: <int> "abc": invalid integer`},
		{"int overflow", call("<value><i8>9223372036854775808</i8></value>"), `xmlrpc: param 1: <i8> "9223372036854775808": integer out of range`},
		{"int fraction", call("<value><int>1.0</int></value>"), "invalid integer"},
		{"int underscore", call("<value><int>1_0</int></value>"), "invalid integer"},
		{"empty int", call("<value><int/></value>"), "invalid integer"},
		{"bad boolean", call("<value><boolean>true</boolean></value>"), `param 1: <boolean> "true": want 0 or 1`},
		{"bad double", call("<value><double>1.2.3</double></value>"), `<double> "1.2.3": invalid number`},
		{"double nan", call("<value><double>NaN</double></value>"), "invalid number"},
		{"double inf", call("<value><double>inf</double></value>"), "invalid number"},
		{"double hex", call("<value><double>0x1p3</double></value>"), "invalid number"},
		{"double overflow", call("<value><double>1e400</double></value>"), "number out of range"},
		{"bad dateTime", call("<value><dateTime.iso8601>2024-01-02</dateTime.iso8601></value>"), "want YYYYMMDDTHH:MM:SS"},
		{"bad base64", call("<value><base64>!!!!</base64></value>"), "invalid base64"},
		{"non-empty nil", call("<value><nil>x</nil></value>"), "must be empty"},
		{"unknown type", call("<value><bigdecimal>1</bigdecimal></value>"), "param 1: unsupported type <bigdecimal>"},
		{"nested error path", call("<value><array><data><value><int>1</int></value><value><struct><member><name>pid</name><value><int>x</int></value></member></struct></value></data></array></value>"),
			`xmlrpc: param 1: element 2: member "pid": <int> "x": invalid integer`},
		{"duplicate member", call("<value><struct><member><name>a</name><value/></member><member><name>a</name><value/></member></struct></value>"), `member "a": duplicate name`},
		{"member without name", call("<value><struct><member><value/></member></struct></value>"), "want <name>, found <value>"},
		{"array without data", call("<value><array><value/></array></value>"), "<array>: want <data>, found <value>"},
		{"text beside type", call("<value>x<int>1</int></value>"), "beside <int>"},
		{"two types in value", call("<value><int>1</int><int>2</int></value>"), "<value>: unexpected <int>"},
		{"element inside int", call("<value><int><b/></int></value>"), "<int>: unexpected <b>"},
		{"text between params", "<methodCall><methodName>m</methodName><params>junk<param><value/></param></params></methodCall>", `unexpected text "junk"`},
		{"empty method name", "<methodCall><methodName></methodName></methodCall>", "<methodName>: empty"},
		{"bad method name", "<methodCall><methodName>a b</methodName></methodCall>", `<methodName> "a b": only letters`},
		{"no method name", "<methodCall><params/></methodCall>", "want <methodName>, found <params>"},
		{"wrong root", "<methodResponse/>", "want <methodCall> document, found <methodResponse>"},
		{"attribute", `<methodCall><methodName a="1">m</methodName></methodCall>`, "attributes are not allowed"},
		{"namespace declaration", `<methodCall xmlns:x="urn:x"><methodName>m</methodName></methodCall>`, "namespaces and attributes are not allowed"},
		{"namespaced element", call(`<value><ex:nil xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions"/></value>`), "namespaces are not allowed"},
		{"prefixed element", call(`<value><ex:nil/></value>`), "<ex:nil>: namespaces are not allowed"},
		{"doctype", "<?xml version='1.0'?>\n<!DOCTYPE methodCall [<!ENTITY a \"aaaa\">]><methodCall><methodName>m</methodName></methodCall>", "DOCTYPE"},
		{"undeclared entity", call("<value><string>&a;</string></value>"), "invalid character entity &a;"},
		{"processing instruction", "<methodCall><?php x?><methodName>m</methodName></methodCall>", "processing instruction <?php?>"},
		{"second root", "<methodCall><methodName>m</methodName></methodCall><methodCall/>", "<methodCall> after </methodCall>"},
		{"trailing text", "<methodCall><methodName>m</methodName></methodCall>x", `text "x" after </methodCall>`},
		{"truncated", "<methodCall><methodName>m</methodName><params>", "unexpected EOF"},
		{"mismatched tags", "<methodCall><methodName>m</methodCall>", "syntax error"},
		{"empty body", "", "not an XML document"},
		{"not xml", "hello", "want <methodCall> document"},
		{"invalid utf-8", call("<value>\xff</value>"), "invalid UTF-8"},
		{"control character", call("<value>\x01</value>"), "illegal character"},
		{"latin-1 declaration", "<?xml version='1.0' encoding='ISO-8859-1'?><methodCall><methodName>m</methodName></methodCall>", "ISO-8859-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, params, err := DecodeCall(strings.NewReader(tt.input))
			if err == nil {
				t.Fatalf("DecodeCall = %q %#v, want error containing %q", method, params, tt.err)
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error = %q, want it to contain %q", err, tt.err)
			}
			if !strings.HasPrefix(err.Error(), "xmlrpc: ") {
				t.Errorf("error = %q, want prefix %q", err, "xmlrpc: ")
			}
		})
	}
}

func TestDecodeCallLimitsBodySize(t *testing.T) {
	head := "<methodCall><methodName>m</methodName><params><param><value><string>"
	tail := "</string></value></param></params></methodCall>"
	fits := head + strings.Repeat("x", MaxBodySize-len(head)-len(tail)) + tail
	if _, _, err := DecodeCall(strings.NewReader(fits)); err != nil {
		t.Errorf("body of exactly MaxBodySize: %v", err)
	}
	tooBig := head + strings.Repeat("x", MaxBodySize-len(head)-len(tail)+1) + tail
	_, _, err := DecodeCall(strings.NewReader(tooBig))
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("body of MaxBodySize+1: error = %v, want ErrTooLarge", err)
	}
}

func nestedArrays(depth int) string {
	return strings.Repeat("<value><array><data>", depth) + "<value><int>1</int></value>" + strings.Repeat("</data></array></value>", depth)
}

func nestedStructs(depth int) string {
	return strings.Repeat("<value><struct><member><name>n</name>", depth) + "<value><int>1</int></value>" + strings.Repeat("</member></struct></value>", depth)
}

func TestDecodeCallLimitsNesting(t *testing.T) {
	tests := []struct {
		name   string
		value  string
		tooDep bool
	}{
		{"arrays at MaxDepth", nestedArrays(MaxDepth), false},
		{"arrays beyond MaxDepth", nestedArrays(MaxDepth + 1), true},
		{"structs at MaxDepth", nestedStructs(MaxDepth), false},
		{"structs beyond MaxDepth", nestedStructs(MaxDepth + 1), true},
		{"very deep", nestedArrays(20000), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := DecodeCall(strings.NewReader(call(tt.value)))
			if tt.tooDep {
				if err == nil || !strings.Contains(err.Error(), "nest deeper than 32") {
					t.Errorf("error = %v, want nesting error", err)
				}
			} else if err != nil {
				t.Errorf("error = %v, want none", err)
			}
		})
	}
}

func TestDecodeCallSiblingsDoNotAddDepth(t *testing.T) {
	// Depth is nesting, not a count: 100 arrays side by side are depth 1.
	v := "<value><array><data>" + strings.Repeat("<value><array><data/></array></value>", 100) + "</data></array></value>"
	if _, _, err := DecodeCall(strings.NewReader(call(v))); err != nil {
		t.Fatal(err)
	}
}
