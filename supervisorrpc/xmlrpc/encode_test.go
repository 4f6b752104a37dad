package xmlrpc

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEncodeResponseMatchesPythonBytes(t *testing.T) {
	tests := []struct {
		fixture string
		value   any
	}{
		{"response_true.xml", true},
		{"response_state.xml", map[string]any{"statecode": 1, "statename": "RUNNING"}},
		{"response_process_info.xml", []map[string]any{{
			"description": "pid 4242, uptime 0:01:40", "exitstatus": 0, "group": "web",
			"logfile": "/var/log/web.log", "name": "web_0", "now": int64(1700000100), "pid": 4242,
			"spawnerr": "", "start": int64(1700000000), "state": 20, "statename": "RUNNING",
			"stderr_logfile": "", "stdout_logfile": "/var/log/web.log", "stop": int32(0),
		}}},
		{"response_types.xml", map[string]any{
			"array": []any{1, "two", 3.0}, "base64": bytes.Repeat([]byte("x"), 100), "bool": false,
			"datetime": fixtureTime, "double": 123456.789, "empty": []string{}, "int": -7,
			"string": "a<b>&c \"q\" 'é' ☃\n\ttab", "struct": map[string]any{},
		}},
		{"response_multicall.xml", []any{[]any{true}, map[string]any{"faultCode": 10, "faultString": "BAD_NAME: nope"}}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			var buf bytes.Buffer
			if err := EncodeResponse(&buf, tt.value); err != nil {
				t.Fatal(err)
			}
			if want := readFixture(t, tt.fixture); !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("EncodeResponse wrote\n%s\nPython writes\n%s", buf.Bytes(), want)
			}
		})
	}
}

func TestEncodeFaultMatchesPythonBytes(t *testing.T) {
	tests := []struct {
		fixture string
		fault   *Fault
	}{
		{"response_fault_bad_name.xml", NewFault(FaultBadName, "foo")},
		{"response_fault_unknown_method.xml", &Fault{Code: 1, String: "UNKNOWN_METHOD"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			var buf bytes.Buffer
			if err := EncodeFault(&buf, tt.fault); err != nil {
				t.Fatal(err)
			}
			if want := readFixture(t, tt.fixture); !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("EncodeFault wrote\n%s\nPython writes\n%s", buf.Bytes(), want)
			}
			_, err := decodeResponse(buf.Bytes())
			var f *Fault
			if !errors.As(err, &f) || *f != *tt.fault {
				t.Errorf("decoding it back gives error %v, want %v", err, tt.fault)
			}
		})
	}
}

func TestEncodeResponseWritesEveryType(t *testing.T) {
	tests := []struct {
		name  string
		value any
		xml   string // the <value> element
	}{
		{"int", 5, "<value><int>5</int></value>\n"},
		{"int64 beyond 32 bits", int64(1) << 40, "<value><int>1099511627776</int></value>\n"},
		{"int32", int32(-3), "<value><int>-3</int></value>\n"},
		{"true", true, "<value><boolean>1</boolean></value>\n"},
		{"false", false, "<value><boolean>0</boolean></value>\n"},
		{"string escaped", "<a & b>", "<value><string>&lt;a &amp; b&gt;</string></value>\n"},
		{"string quotes stay", `"'`, "<value><string>\"'</string></value>\n"},
		{"string carriage return", "a\r\nb", "<value><string>a&#13;\nb</string></value>\n"},
		{"string ANSI escape replaced", "\x1b[31mred", "<value><string>\uFFFD[31mred</string></value>\n"},
		{"string invalid UTF-8 replaced", "a\xffb", "<value><string>a\uFFFDb</string></value>\n"},
		{"string U+FFFE replaced", "\uFFFE", "<value><string>\uFFFD</string></value>\n"},
		{"string astral kept", "😀", "<value><string>😀</string></value>\n"},
		{"double", 2.5, "<value><double>2.5</double></value>\n"},
		{"time converted to UTC", time.Date(2024, 1, 2, 5, 4, 5, 999, time.FixedZone("X", 2*3600)), "<value><dateTime.iso8601>20240102T03:04:05</dateTime.iso8601></value>\n"},
		{"bytes empty", []byte{}, "<value><base64>\n</base64></value>\n"},
		{"bytes", []byte("hello"), "<value><base64>\naGVsbG8=\n</base64></value>\n"},
		{"strings", []string{"a", "b"}, "<value><array><data>\n<value><string>a</string></value>\n<value><string>b</string></value>\n</data></array></value>\n"},
		{"ints", []int{1}, "<value><array><data>\n<value><int>1</int></value>\n</data></array></value>\n"},
		{"struct keys sorted and escaped", map[string]any{"b": 1, "a&": 2}, "<value><struct>\n<member>\n<name>a&amp;</name>\n<value><int>2</int></value>\n</member>\n<member>\n<name>b</name>\n<value><int>1</int></value>\n</member>\n</struct></value>\n"},
		{"structs", []map[string]any{{}}, "<value><array><data>\n<value><struct>\n</struct></value>\n</data></array></value>\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := EncodeResponse(&buf, tt.value); err != nil {
				t.Fatal(err)
			}
			want := responseOpen + tt.xml + responseClose
			if buf.String() != want {
				t.Errorf("wrote\n%q\nwant\n%q", buf.String(), want)
			}
		})
	}
}

func TestEncodedStringsDecodeBack(t *testing.T) {
	for _, s := range []string{"", " ", "a\r\nb\rc\n", "\t<&>\"'", "é☃😀", "]]>"} {
		var buf bytes.Buffer
		if err := EncodeResponse(&buf, s); err != nil {
			t.Fatal(err)
		}
		got, err := decodeResponse(buf.Bytes())
		if err != nil || got != s {
			t.Errorf("%q decodes back as %q, %v", s, got, err)
		}
	}
}

func TestEncodeResponseRefusesWhatItCannotEncode(t *testing.T) {
	cyclic := []any{nil}
	cyclic[0] = cyclic
	tests := []struct {
		name  string
		value any
		err   string
	}{
		{"nil", nil, "xmlrpc: encode result: nil cannot be encoded"},
		{"nil in struct", map[string]any{"x": []any{1, nil}}, `member "x": element 2: nil cannot be encoded`},
		{"NaN", math.NaN(), "double NaN cannot be encoded"},
		{"infinity", math.Inf(-1), "double -Inf cannot be encoded"},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), "year outside 0-9999"},
		{"unsupported type", struct{}{}, "cannot encode a struct {}"},
		{"uint", uint(1), "cannot encode a uint"},
		{"too deep", any(nestedGo(MaxDepth + 1)), "nest deeper than 32"},
		{"cycle", cyclic, "nest deeper than 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := EncodeResponse(&buf, tt.value)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error = %v, want it to contain %q", err, tt.err)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes on error, want none", buf.Len())
			}
		})
	}
}

func nestedGo(depth int) any {
	var v any = 1
	for range depth {
		v = []any{v}
	}
	return v
}

func TestEncodeResponseAllowsMaxDepth(t *testing.T) {
	var buf bytes.Buffer
	if err := EncodeResponse(&buf, nestedGo(MaxDepth)); err != nil {
		t.Fatal(err)
	}
	got, err := decodeResponse(buf.Bytes())
	if err != nil || !reflect.DeepEqual(got, nestedGo(MaxDepth)) {
		t.Errorf("decodes back as %v, %v", got, err)
	}
}

// The expected strings are Python 3's repr() of the same floats.
func TestFormatDoubleMatchesPythonRepr(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1, "1.0"},
		{-2.5, "-2.5"},
		{0.1, "0.1"},
		{1.0 / 3, "0.3333333333333333"},
		{123456.789, "123456.789"},
		{1e15, "1000000000000000.0"},
		{9999999999999998, "9999999999999998.0"},
		{1e16, "1e+16"},
		{1.5e16, "1.5e+16"},
		{1e22, "1e+22"},
		{0.0001, "0.0001"},
		{0.00012345, "0.00012345"},
		{0.00001, "1e-05"},
		{1.2345e-7, "1.2345e-07"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{math.SmallestNonzeroFloat64, "5e-324"},
	}
	for _, tt := range tests {
		got, err := formatDouble(tt.f)
		if err != nil || got != tt.want {
			t.Errorf("formatDouble(%v) = %q, %v; want %q", tt.f, got, err, tt.want)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestEncodeResponseReportsWriteError(t *testing.T) {
	if err := EncodeResponse(failingWriter{}, 1); err == nil || err.Error() != "disk full" {
		t.Errorf("error = %v, want the writer's", err)
	}
}
