package xmlrpc

import (
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

// pythonClient drives the endpoint with Python's xmlrpc.client, the library
// supervisorctl is built on, and prints one ascii() per line.
const pythonClient = `
import sys, datetime, xmlrpc.client as x
p = x.ServerProxy(sys.argv[1], use_builtin_types=True)
print(ascii(p.supervisor.getState()))
print(ascii(p.supervisor.startProcess("web")))
try:
    p.supervisor.startProcess("db")
except x.Fault as f:
    print(ascii((f.faultCode, f.faultString)))
try:
    p.no.such.method()
except x.Fault as f:
    print(ascii((f.faultCode, f.faultString)))
sent = [-2**31, 2**31 - 1, True, False, "a<b>&c \"q\" 'e' \u00e9 \u2603 \U0001F600 ]]>", "", "\t\n",
        2.5, -0.0, 1e16, 1e-05, 0.1, datetime.datetime(2024, 1, 2, 3, 4, 5), b"\x00\xff" * 50,
        [], {}, [1, [2, [3]]], {"b": 1, "a": {"c": [True]}}]
got = p.test.echo(*sent)
print(ascii(got == sent), ascii(got) if got != sent else "")
print(ascii(p.test.log()))
print(ascii(p.test.big()))
m = x.MultiCall(p)
m.supervisor.getState()
m.supervisor.startProcess("db")
m.supervisor.startProcess("web")
try:
    for r in m():
        print(ascii(r))
except x.Fault as f:
    print(ascii((f.faultCode, f.faultString)))
`

func TestPythonXMLRPCClientInterop(t *testing.T) {
	// supervisorctl is a Python program: the package is only useful if
	// Python's client reads what it writes. CI installs supervisor, which
	// brings python3, so a missing interpreter is a broken setup, not a
	// reason to skip.
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is required for the interop test (CI installs it with supervisor): %v", err)
	}
	m := testMethods()
	m["test.log"] = func([]any) (any, error) { return "\x1b[31mred\x1b[0m\r\nline2\n", nil }
	m["test.big"] = func([]any) (any, error) {
		return map[string]any{"i8": int64(1) << 40, "ints": []int{1, 2}, "strs": []string{"x"}}, nil
	}
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)

	out, err := exec.Command(python, "-c", pythonClient, srv.URL+"/RPC2").CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	want := []string{
		"{'statecode': 1, 'statename': 'RUNNING'}",
		"True",
		"(10, 'BAD_NAME: db')",
		"(1, 'UNKNOWN_METHOD: no.such.method')",
		"True ",
		`'\ufffd[31mred\ufffd[0m\r\nline2\n'`,
		"{'i8': 1099511627776, 'ints': [1, 2], 'strs': ['x']}",
		"{'statecode': 1, 'statename': 'RUNNING'}",
		// MultiCallIterator raises the first fault it meets.
		"(10, 'BAD_NAME: db')",
	}
	got := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("python printed %d lines, want %d:\n%s", len(got), len(want), out)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: python printed\n%s\nwant\n%s", i+1, got[i], want[i])
		}
	}
}
