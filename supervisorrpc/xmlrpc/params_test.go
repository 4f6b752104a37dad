package xmlrpc

import (
	"errors"
	"reflect"
	"testing"
)

func wantFault(t *testing.T, err error, code int, str string) {
	t.Helper()
	var f *Fault
	if !errors.As(err, &f) {
		t.Fatalf("error = %v, want fault %d %q", err, code, str)
	}
	if f.Code != code || f.String != str {
		t.Errorf("fault = %d %q, want %d %q", f.Code, f.String, code, str)
	}
}

func TestArityFaultsOnWrongCount(t *testing.T) {
	tests := []struct {
		n, min, max int
		err         string // "" for no error
	}{
		{0, 0, 0, ""},
		{1, 0, 0, "INCORRECT_PARAMETERS: want 0 params, got 1"},
		{1, 1, 2, ""},
		{2, 1, 2, ""},
		{3, 1, 2, "INCORRECT_PARAMETERS: want 1 to 2 params, got 3"},
		{0, 1, 2, "INCORRECT_PARAMETERS: want 1 to 2 params, got 0"},
		{5, 1, -1, ""},
		{0, 1, -1, "INCORRECT_PARAMETERS: want at least 1 params, got 0"},
	}
	for _, tt := range tests {
		err := Arity(make([]any, tt.n), tt.min, tt.max)
		if tt.err == "" {
			if err != nil {
				t.Errorf("Arity(%d params, %d, %d) = %v, want nil", tt.n, tt.min, tt.max, err)
			}
			continue
		}
		wantFault(t, err, FaultIncorrectParameters, tt.err)
	}
}

func TestParamReturnsTypedValue(t *testing.T) {
	params := []any{"web", 3, true, []any{"x"}, map[string]any{"k": 1}, 1.5}
	if v, err := Param[string](params, 0); v != "web" || err != nil {
		t.Errorf("Param[string] = %q, %v", v, err)
	}
	if v, err := Param[int](params, 1); v != 3 || err != nil {
		t.Errorf("Param[int] = %d, %v", v, err)
	}
	if v, err := Param[bool](params, 2); !v || err != nil {
		t.Errorf("Param[bool] = %v, %v", v, err)
	}
	if v, err := Param[[]any](params, 3); !reflect.DeepEqual(v, []any{"x"}) || err != nil {
		t.Errorf("Param[[]any] = %v, %v", v, err)
	}
	if v, err := Param[map[string]any](params, 4); v["k"] != 1 || err != nil {
		t.Errorf("Param[map] = %v, %v", v, err)
	}
	if v, err := Param[any](params, 5); v != 1.5 || err != nil {
		t.Errorf("Param[any] = %v, %v", v, err)
	}
}

func TestParamFaultsOnWrongTypeOrMissing(t *testing.T) {
	params := []any{3, "x", nil}
	_, err := Param[string](params, 0)
	wantFault(t, err, FaultIncorrectParameters, "INCORRECT_PARAMETERS: param 1: want string, got int")
	_, err = Param[int](params, 1)
	wantFault(t, err, FaultIncorrectParameters, "INCORRECT_PARAMETERS: param 2: want int, got string")
	_, err = Param[bool](params, 2)
	wantFault(t, err, FaultIncorrectParameters, "INCORRECT_PARAMETERS: param 3: want boolean, got nil")
	_, err = Param[map[string]any](params, 3)
	wantFault(t, err, FaultIncorrectParameters, "INCORRECT_PARAMETERS: param 4: missing")
	_, err = Param[int64](params, 0)
	wantFault(t, err, FaultIncorrectParameters, "INCORRECT_PARAMETERS: param 1: want int64, got int")
}

func TestOptParamDefaultsWhenAbsent(t *testing.T) {
	if v, err := OptParam(nil, 0, true); !v || err != nil {
		t.Errorf("absent: %v, %v; want default true", v, err)
	}
	if v, err := OptParam([]any{false}, 0, true); v || err != nil {
		t.Errorf("present: %v, %v; want false", v, err)
	}
	_, err := OptParam([]any{"x"}, 0, true)
	wantFault(t, err, FaultIncorrectParameters, "INCORRECT_PARAMETERS: param 1: want boolean, got string")
}
