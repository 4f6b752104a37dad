package xmlrpc

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
)

// HandlerFunc handles one method call. It returns the result to encode, or
// an error: a *Fault is sent to the client as is, any other error as a
// FaultFailed fault.
type HandlerFunc func(params []any) (any, error)

// Methods is the method table of an XML-RPC endpoint: method names, such as
// "supervisor.getState", mapped to their handlers. Method names are resolved
// only from this explicit table: nothing else in the process is reachable
// through a method name. Fill it before serving; it is read concurrently.
type Methods map[string]HandlerFunc

// Call runs the handler for method. An unknown method is a FaultUnknownMethod
// fault. A handler that panics returns a *PanicError (a FaultFailed fault
// for the client) instead of ending the process: no request may crash the
// server.
func (m Methods) Call(method string, params []any) (v any, err error) {
	h := m[method]
	if h == nil {
		return nil, NewFault(FaultUnknownMethod, method)
	}
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, &PanicError{Method: method, Value: r, Stack: debug.Stack()}
		}
	}()
	return h(params)
}

// PanicError is the error of a handler that panicked. Its message is one
// line; the stack is kept apart, for a debug log.
type PanicError struct {
	Method string
	Value  any
	Stack  []byte
}

// Error says which method panicked and with what.
func (e *PanicError) Error() string {
	return fmt.Sprintf("internal error: %s panicked: %s", e.Method, strings.ReplaceAll(fmt.Sprint(e.Value), "\n", " "))
}

// MaxMulticallResponse bounds the encoded results of one system.multicall:
// once the results so far reach it, each further call is not run and gets
// a FaultFailed fault saying so. supervisord has no bound; without one, 100
// reads of a large log in one request would build a response 100 times the
// log in memory. A single call's result is bounded by its handler.
const MaxMulticallResponse = 8 << 20

// Multicall is the handler of system.multicall, for tables that offer it:
//
//	m["system.multicall"] = m.Multicall
//
// It takes one array of calls and runs them in order through m.Call (see
// [Multicall]).
func (m Methods) Multicall(params []any) (any, error) {
	if err := Arity(params, 1, 1); err != nil {
		return nil, err
	}
	calls, err := Param[[]any](params, 0)
	if err != nil {
		return nil, err
	}
	return Multicall(calls, m.Call), nil
}

// Multicall runs the calls of a system.multicall request in order, each
// through call, and returns one result per call, as Python's
// xmlrpc.client.MultiCall expects: a one-element array holding the value on
// success, or a struct {faultCode, faultString} on failure. Each call is a
// struct {methodName: string, params: array}; a missing params means no
// parameters. As in supervisord, a call without a methodName or one to
// system.multicall itself fails with FaultIncorrectParameters, and an error
// that is not a *Fault becomes FaultFailed. Once the encoded results reach
// [MaxMulticallResponse] bytes, the remaining calls are not run: each gets a
// FaultFailed fault naming the limit.
func Multicall(calls []any, call func(method string, params []any) (any, error)) []any {
	results := make([]any, len(calls))
	var size int64
	for i, c := range calls {
		if size >= MaxMulticallResponse {
			results[i] = faultValue(NewFault(FaultFailed, fmt.Sprintf(
				"not run: the system.multicall response reached its limit of %d bytes; make this call on its own", MaxMulticallResponse)))
			continue
		}
		v, err := multicallOne(c, call)
		if err != nil {
			results[i] = faultValue(asFault(err))
		} else {
			results[i] = []any{v}
		}
		size += encodedSize(results[i])
	}
	return results
}

func multicallOne(c any, call func(string, []any) (any, error)) (any, error) {
	s, ok := c.(map[string]any)
	if !ok {
		return nil, NewFault(FaultIncorrectParameters, "call is not a struct")
	}
	name, ok := s["methodName"].(string)
	if !ok {
		return nil, NewFault(FaultIncorrectParameters, "No methodName")
	}
	if name == "system.multicall" {
		return nil, NewFault(FaultIncorrectParameters, "Recursive system.multicall forbidden")
	}
	params := []any{}
	if p, ok := s["params"]; ok {
		if params, ok = p.([]any); !ok {
			return nil, NewFault(FaultIncorrectParameters, "params is not an array")
		}
	}
	return call(name, params)
}

// asFault returns err as a fault: itself if it is one, else FaultFailed
// with the error's text, as supervisord does for unexpected exceptions.
func asFault(err error) *Fault {
	var f *Fault
	if errors.As(err, &f) {
		return f
	}
	return NewFault(FaultFailed, err.Error())
}

// ServeHTTP serves the endpoint the way supervisord does: a POSTed
// <methodCall> is dispatched through m.Call and answered with 200 and a
// text/xml <methodResponse>, whether it holds a result or a fault. A body
// that is not a valid call gets 400 (413 when larger than MaxBodySize) with
// a plain-text reason; a method other than POST gets 405. A result that
// cannot be encoded (a handler bug) gets 500.
func (m Methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "xmlrpc: method "+r.Method+" not allowed, use POST", http.StatusMethodNotAllowed)
		return
	}
	method, params, err := DecodeCall(r.Body)
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, ErrTooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		http.Error(w, err.Error(), code)
		return
	}
	var body []byte
	defer func() {
		// A panic outside a handler (in the encoder): a 500, not a crash.
		if r := recover(); r != nil {
			http.Error(w, fmt.Sprintf("xmlrpc: %s: internal error: %v", method, r), http.StatusInternalServerError)
		}
	}()
	result, err := m.Call(method, params)
	if err != nil {
		body = marshalFault(asFault(err))
	} else if body, err = marshalResponse(result); err != nil {
		http.Error(w, fmt.Sprintf("xmlrpc: %s: %v", method, err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = bytes.NewReader(body).WriteTo(w)
}
