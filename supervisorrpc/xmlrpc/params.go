package xmlrpc

import (
	"fmt"
	"time"
)

// Arity checks that a call has between min and max parameters (max < 0: no
// upper bound). Otherwise it returns a FaultIncorrectParameters fault, as
// supervisord does for a call with the wrong number of arguments.
func Arity(params []any, min, max int) error {
	n := len(params)
	if n >= min && (max < 0 || n <= max) {
		return nil
	}
	var want string
	switch {
	case min == max:
		want = fmt.Sprint(min)
	case max < 0:
		want = fmt.Sprintf("at least %d", min)
	default:
		want = fmt.Sprintf("%d to %d", min, max)
	}
	return NewFault(FaultIncorrectParameters, fmt.Sprintf("want %s params, got %d", want, n))
}

// Param returns parameter i (counting from 0) as a T, which is one of the
// decoded types: int, bool, string, float64, time.Time, []byte, []any,
// map[string]any (or any). A missing parameter, or one of another type, is a
// FaultIncorrectParameters fault that names it, e.g.
// "INCORRECT_PARAMETERS: param 1: want string, got int".
func Param[T any](params []any, i int) (T, error) {
	var zero T
	if i < 0 || i >= len(params) {
		return zero, NewFault(FaultIncorrectParameters, fmt.Sprintf("param %d: missing", i+1))
	}
	v, ok := params[i].(T)
	if !ok {
		return zero, NewFault(FaultIncorrectParameters,
			fmt.Sprintf("param %d: want %s, got %s", i+1, typeName(any(zero)), typeName(params[i])))
	}
	return v, nil
}

// OptParam is Param for an optional parameter: it returns def when the call
// has no parameter i.
func OptParam[T any](params []any, i int, def T) (T, error) {
	if i >= len(params) {
		return def, nil
	}
	return Param[T](params, i)
}

// typeName names the XML-RPC type of a decoded value (possibly a typed nil
// slice or map) for messages.
func typeName(v any) string {
	switch v.(type) {
	case int:
		return "int"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		return "double"
	case time.Time:
		return "dateTime.iso8601"
	case []byte:
		return "base64"
	case []any:
		return "array"
	case map[string]any:
		return "struct"
	case nil:
		return "nil"
	}
	return fmt.Sprintf("%T", v)
}
