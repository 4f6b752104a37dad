package xmlrpc

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func testMethods() Methods {
	m := Methods{
		"supervisor.getState": func(params []any) (any, error) {
			if err := Arity(params, 0, 0); err != nil {
				return nil, err
			}
			return map[string]any{"statecode": 1, "statename": "RUNNING"}, nil
		},
		"supervisor.startProcess": func(params []any) (any, error) {
			if err := Arity(params, 1, 2); err != nil {
				return nil, err
			}
			name, err := Param[string](params, 0)
			if err != nil {
				return nil, err
			}
			if name != "web" {
				return nil, NewFault(FaultBadName, name)
			}
			return true, nil
		},
		"test.plainError": func([]any) (any, error) { return nil, errors.New("disk on fire") },
		"test.wrappedFault": func([]any) (any, error) {
			return nil, fmt.Errorf("stopping: %w", NewFault(FaultNotRunning, "web"))
		},
		"test.nil":        func([]any) (any, error) { return nil, nil },
		"test.echo":       func(params []any) (any, error) { return params, nil },
		"test.nilHandler": nil,
	}
	m["system.multicall"] = m.Multicall
	return m
}

func TestMethodsCallResolvesOnlyTableNames(t *testing.T) {
	m := testMethods()
	tests := []struct {
		method string
		want   any
		fault  string
	}{
		{"supervisor.getState", map[string]any{"statecode": 1, "statename": "RUNNING"}, ""},
		{"supervisor.startProcess", true, ""},
		{"supervisor.stopProcess", nil, "UNKNOWN_METHOD: supervisor.stopProcess"},
		{"Call", nil, "UNKNOWN_METHOD: Call"},
		{"", nil, "UNKNOWN_METHOD"},
		{"test.nilHandler", nil, "UNKNOWN_METHOD: test.nilHandler"},
	}
	for _, tt := range tests {
		params := []any{}
		if tt.method == "supervisor.startProcess" {
			params = []any{"web"}
		}
		got, err := m.Call(tt.method, params)
		if tt.fault != "" {
			wantFault(t, err, FaultUnknownMethod, tt.fault)
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Call(%q) = %v, %v; want %v", tt.method, got, err, tt.want)
		}
	}
}

func TestMulticallWrapsResultsAndFaults(t *testing.T) {
	m := testMethods()
	calls := []any{
		map[string]any{"methodName": "supervisor.getState", "params": []any{}},
		map[string]any{"methodName": "supervisor.startProcess", "params": []any{"nope"}},
		map[string]any{"methodName": "supervisor.getState"}, // params may be left out
		map[string]any{"params": []any{}},
		map[string]any{"methodName": "system.multicall", "params": []any{[]any{}}},
		map[string]any{"methodName": "nosuch.method", "params": []any{}},
		map[string]any{"methodName": "test.plainError", "params": []any{}},
		map[string]any{"methodName": "test.wrappedFault", "params": []any{}},
		map[string]any{"methodName": "supervisor.getState", "params": "x"},
		"not a struct",
		map[string]any{"methodName": 7},
	}
	fault := func(code int, s string) any { return map[string]any{"faultCode": code, "faultString": s} }
	want := []any{
		[]any{map[string]any{"statecode": 1, "statename": "RUNNING"}},
		fault(FaultBadName, "BAD_NAME: nope"),
		[]any{map[string]any{"statecode": 1, "statename": "RUNNING"}},
		fault(FaultIncorrectParameters, "INCORRECT_PARAMETERS: No methodName"),
		fault(FaultIncorrectParameters, "INCORRECT_PARAMETERS: Recursive system.multicall forbidden"),
		fault(FaultUnknownMethod, "UNKNOWN_METHOD: nosuch.method"),
		fault(FaultFailed, "FAILED: disk on fire"),
		fault(FaultNotRunning, "NOT_RUNNING: web"),
		fault(FaultIncorrectParameters, "INCORRECT_PARAMETERS: params is not an array"),
		fault(FaultIncorrectParameters, "INCORRECT_PARAMETERS: call is not a struct"),
		fault(FaultIncorrectParameters, "INCORRECT_PARAMETERS: No methodName"),
	}
	got, err := m.Call("system.multicall", []any{calls})
	if err != nil {
		t.Fatal(err)
	}
	results := got.([]any)
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(results[i], want[i]) {
			t.Errorf("result %d = %#v, want %#v", i+1, results[i], want[i])
		}
	}
}

func TestMulticallFaultsOnBadArguments(t *testing.T) {
	m := testMethods()
	_, err := m.Multicall(nil)
	wantFault(t, err, FaultIncorrectParameters, "INCORRECT_PARAMETERS: want 1 params, got 0")
	_, err = m.Multicall([]any{"x"})
	wantFault(t, err, FaultIncorrectParameters, "INCORRECT_PARAMETERS: param 1: want array, got string")
}

func TestServeHTTP(t *testing.T) {
	srv := httptest.NewServer(testMethods())
	t.Cleanup(srv.Close)
	callBody := func(method string, values ...string) string {
		return strings.Replace(call(values...), "<methodName>m<", "<methodName>"+method+"<", 1)
	}
	tests := []struct {
		name     string
		method   string
		body     string
		status   int
		ctype    string
		contains string
	}{
		{"result", "POST", callBody("supervisor.getState"), 200, "text/xml",
			"<name>statename</name>\n<value><string>RUNNING</string></value>"},
		{"fault is 200", "POST", callBody("supervisor.startProcess", "<value><string>db</string></value>"), 200, "text/xml",
			"<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>10</int></value>"},
		{"unknown method is a fault", "POST", callBody("os.exec"), 200, "text/xml", "UNKNOWN_METHOD: os.exec"},
		{"plain error is FAILED", "POST", callBody("test.plainError"), 200, "text/xml", "FAILED: disk on fire"},
		{"unencodable result is 500", "POST", callBody("test.nil"), 500, "text/plain",
			"xmlrpc: test.nil: xmlrpc: encode result: nil cannot be encoded"},
		{"GET is 405", "GET", "", 405, "text/plain", "use POST"},
		{"malformed is 400", "POST", callBody("m", "<value><int>abc</int></value>"), 400, "text/plain",
			`xmlrpc: param 1: <int> "abc": invalid integer`},
		{"too large is 413", "POST", strings.Repeat(" ", MaxBodySize+1), 413, "text/plain", "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+"/RPC2", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d; body %q", resp.StatusCode, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.ctype) {
				t.Errorf("Content-Type = %q, want %q", ct, tt.ctype)
			}
			if !strings.Contains(string(body), tt.contains) {
				t.Errorf("body = %q, want it to contain %q", body, tt.contains)
			}
			if tt.status == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", resp.Header.Get("Allow"))
			}
		})
	}
}
