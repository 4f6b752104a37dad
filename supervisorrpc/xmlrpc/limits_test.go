package xmlrpc

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPanickingHandlerGetsFaultNotCrash(t *testing.T) {
	m := Methods{
		"test.panic": func([]any) (any, error) { var s []int; return s[3], nil },
		"test.ok":    func([]any) (any, error) { return "fine", nil },
	}
	m["system.multicall"] = m.Multicall

	_, err := m.Call("test.panic", nil)
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Method != "test.panic" || len(pe.Stack) == 0 {
		t.Fatalf("Call(test.panic) err = %v, want a *PanicError with a stack", err)
	}
	if strings.Contains(pe.Error(), "\n") || !strings.Contains(pe.Error(), "index out of range") {
		t.Errorf("PanicError = %q, want one line naming the panic", pe.Error())
	}

	rec := httptest.NewRecorder()
	req := "<?xml version='1.0'?><methodCall><methodName>test.panic</methodName><params></params></methodCall>"
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/RPC2", strings.NewReader(req)))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, "<int>30</int>") || !strings.Contains(body, "FAILED: internal error: test.panic panicked") {
		t.Errorf("panicking call: %d %s; want 200 with a FAILED fault", rec.Code, body)
	}

	got := Multicall([]any{
		map[string]any{"methodName": "test.panic"},
		map[string]any{"methodName": "test.ok"},
	}, m.Call)
	if f, ok := got[0].(map[string]any); !ok || f["faultCode"] != FaultFailed {
		t.Errorf("multicall result 1 = %v, want a FAILED fault", got[0])
	}
	if v, ok := got[1].([]any); !ok || v[0] != "fine" {
		t.Errorf("multicall result 2 = %v, want [fine]: a panic ends only its own call", got[1])
	}
}

func TestMulticallResponseStaysWithinItsBudget(t *testing.T) {
	const chunk = 1 << 20
	big := strings.Repeat("<", chunk) // each byte encodes as 4 ("&lt;")
	runs := 0
	m := Methods{"test.big": func([]any) (any, error) { runs++; return big, nil }}
	calls := make([]any, 100)
	for i := range calls {
		calls[i] = map[string]any{"methodName": "test.big"}
	}
	results := Multicall(calls, m.Call)
	b, err := marshalResponse(results)
	if err != nil {
		t.Fatal(err)
	}
	if limit := MaxMulticallResponse + 4*chunk + 1<<10; len(b) > limit {
		t.Errorf("multicall response is %d bytes, want at most %d (the budget plus one call)", len(b), limit)
	}
	if want := MaxMulticallResponse/(4*chunk) + 1; runs > want {
		t.Errorf("%d calls ran, want at most %d", runs, want)
	}
	last, ok := results[len(results)-1].(map[string]any)
	if !ok || last["faultCode"] != FaultFailed || !strings.Contains(last["faultString"].(string), "reached its limit") {
		t.Errorf("last result = %.200v, want a FAILED fault naming the limit", results[len(results)-1])
	}
}

func TestEncodedSizeIsTheEncodedLength(t *testing.T) {
	for _, v := range []any{
		"a<b&c\r\x01\xff", 42, true, 1.5, []byte("xyz"), []any{"a", 1, map[string]any{"k": []string{"v"}}},
	} {
		b, err := marshalResponse(v)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := encodedSize(v), int64(len(b)-len(responseOpen)-len(responseClose)); got != want {
			t.Errorf("encodedSize(%#v) = %d, want %d", v, got, want)
		}
	}
}
