// Package xmlrpc is the XML-RPC wire codec under corral's
// supervisord-compatible endpoint (/RPC2), the one the unmodified
// supervisorctl client talks to through Python's xmlrpc.client.
//
// The model is one request, one response:
//
//   - [DecodeCall] reads a <methodCall> into a method name and parameters
//     made of plain Go values (see the table below). It is strict: the body is
//     limited to [MaxBodySize] bytes, arrays and structs nest at most
//     [MaxDepth] deep, DOCTYPE declarations (and so any entity beyond the five
//     XML builtins) are refused, and every error names the parameter and the
//     nested element at fault.
//   - [EncodeResponse] writes a <methodResponse> carrying one value, and
//     [EncodeFault] one carrying a [Fault], byte for byte as Python's
//     xmlrpc.client.dumps would write them.
//   - [Methods] is the method table: an explicit map from method name to
//     [HandlerFunc]. It is also the http.Handler for the endpoint. Nothing in
//     the process is reachable through a method name unless it is a key of
//     that map; system.multicall too must be registered explicitly
//     (see [Methods.Multicall]). A handler that panics gets a FAILED fault
//     ([PanicError]), not a crashed server, and one system.multicall
//     response holds at most [MaxMulticallResponse] bytes of results.
//
// Values map as follows:
//
//	XML-RPC                     decoded as       encoded from
//	<int>, <i4>, <i8>           int              int, int32, int64 (always as <int>)
//	<boolean>                   bool             bool
//	<string>, untyped <value>   string           string
//	<double>                    float64          float64 (not NaN or ±Inf)
//	<dateTime.iso8601>          time.Time (UTC)  time.Time (converted to UTC, seconds)
//	<base64>                    []byte           []byte
//	<array>                     []any            []any, []string, []int, []map[string]any
//	<struct>                    map[string]any   map[string]any (keys sorted)
//	<nil/>                      nil              refused: supervisord never returns nil
//
// Strings are encoded with characters that XML 1.0 cannot carry (control
// characters such as the ESC of ANSI colours in log output, invalid UTF-8)
// replaced by U+FFFD, so that the client's parser never rejects a response;
// a carriage return is written as &#13; so that it survives XML line-end
// normalisation.
//
// The package never resolves a method name by reflection, never follows an
// external entity, and never writes a partial response: encoders build the
// whole document before writing it.
package xmlrpc
