package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
)

// FuzzParseProgram checks the body of POST /v1/programs: ParseProgram never
// panics, refuses with a bad-request error, and what it accepts is a valid
// program that survives the trip through ProgramFields (what GET
// /v1/programs/{name} answers) and back. The seed corpus is in
// testdata/fuzz/FuzzParseProgram.
func FuzzParseProgram(f *testing.F) {
	f.Add([]byte(`{"name":"w","command":["sleep","5"],"environment":{"A":"1"},"start_secs":"0s","backoff":{"factor":3}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseProgram(body)
		if err != nil {
			if !errors.Is(err, daemon.ErrBadRequest) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line wrapping ErrBadRequest", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted program does not validate: %v", err)
		}
		fields := ProgramFields(p)
		delete(fields, "group")
		delete(fields, "source")
		back, err := json.Marshal(fields)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := ParseProgram(back)
		if err != nil {
			t.Fatalf("ProgramFields does not parse back: %v\n%s", err, back)
		}
		p.Source, p2.Source = config.Position{}, config.Position{}
		if !reflect.DeepEqual(p, p2) {
			t.Fatalf("round trip changed the program:\n%+v\n%+v\nvia %s", p, p2, back)
		}
	})
}

// FuzzDecodeBodies checks the other JSON bodies the API reads (ActionRequest
// for POST /v1/actions/{action}, SignalRequest for POST
// /v1/processes/{target}/signal): decode never panics, and refuses with a
// bad-request error or fills the request. The seed corpus is in
// testdata/fuzz/FuzzDecodeBodies.
func FuzzDecodeBodies(f *testing.F) {
	f.Add([]byte(`{"targets":["web","g:*"],"wait":true,"signal":"HUP"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{&ActionRequest{}, &SignalRequest{}} {
			r := httptest.NewRequest(http.MethodPost, "/v1/actions/start", strings.NewReader(string(body)))
			r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, maxBody)
			err := decode(r, v)
			if err != nil && (!errors.Is(err, daemon.ErrBadRequest) || statusOf(err) != http.StatusBadRequest) {
				t.Fatalf("decode into %T: error %q is not a bad request", v, err)
			}
			if err == nil && !json.Valid(body) {
				t.Fatalf("decode into %T accepted invalid JSON %q", v, body)
			}
		}
	})
}
