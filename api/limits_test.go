package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral/api"
	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
)

// nestedBody is the audit's body: a program whose environment is an object
// nested depth deep (60 KB at depth 10,000).
func nestedBody(depth int) []byte {
	return []byte(`{"name":"deep","command":"sleep 1","environment":` +
		strings.Repeat(`{"a":`, depth) + `1` + strings.Repeat(`}`, depth) + `}`)
}

func postProgram(t *testing.T, srv *httptest.Server, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(srv.URL+"/v1/programs", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e api.ErrorResponse
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error
}

func TestDeeplyNestedProgramBodyIsRefused(t *testing.T) {
	srv := startServer(t, "")
	body := nestedBody(10000)
	if len(body) < 50000 {
		t.Fatalf("body of %d bytes, want the audit's ~60 KB", len(body))
	}
	status, msg := postProgram(t, srv, body)
	if status != http.StatusBadRequest || !strings.Contains(msg, "JSON nested deeper than 8 levels") {
		t.Errorf("POST of a body nested 10,000 deep = %d %q, want 400 naming the nesting", status, msg)
	}
	// Deep nesting is refused in every JSON body the API reads.
	for _, path := range []string{"/v1/actions/start", "/v1/processes/x/signal"} {
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(`{"targets":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "nested deeper") {
			t.Errorf("POST %s nested 100 deep = %d %s, want 400 naming the nesting", path, resp.StatusCode, b)
		}
	}
	big := []byte(`{"name":"big","command":"` + strings.Repeat("x", 300<<10) + `"}`)
	if status, msg := postProgram(t, srv, big); status != http.StatusBadRequest || !strings.Contains(msg, "larger than") {
		t.Errorf("POST of a 300 KiB program = %d %q, want 400 naming the size", status, msg)
	}
}

// TestProgramBodyErrorsAreTheConfigFilesErrors: a field the config file
// refuses is refused by the API with the same words, naming the program
// and the field; unknown fields are refused by name.
func TestProgramBodyErrorsAreTheConfigFilesErrors(t *testing.T) {
	for _, tc := range []struct{ json, toml string }{
		{`"stop_signal":"TERMX"`, `stop_signal = "TERMX"`},
		{`"bogus":1`, `bogus = 1`},
		{`"backoff":{"factor":0.5}`, `backoff = { factor = 0.5 }`},
		{`"backoff":{"nope":"1s"}`, `backoff = { nope = "1s" }`},
		{`"numprocs":0`, `numprocs = 0`},
		{`"numprocs":2,"process_name":"same"`, "numprocs = 2\nprocess_name = \"same\""},
		{`"exit_codes":[256]`, `exit_codes = [256]`},
		{`"start_secs":"ten"`, `start_secs = "ten"`},
		{`"stdout":{"redirect":true}`, `stdout = { redirect = true }`},
		{`"environment":{"A=B":"1"}`, `environment = { "A=B" = "1" }`},
		{`"autostart":"yes"`, `autostart = "yes"`},
		{`"umask":"999"`, `umask = "999"`},
	} {
		_, apiErr := api.ParseProgram([]byte(`{"name":"web","command":"sleep 1",` + tc.json + `}`))
		_, fileErr := config.ParseTOML("corral.toml", []byte("[program.web]\ncommand = \"sleep 1\"\n"+tc.toml+"\n"))
		if apiErr == nil || fileErr == nil {
			t.Errorf("%s: API error %v, file error %v; want both to fail", tc.json, apiErr, fileErr)
			continue
		}
		_, want, _ := strings.Cut(fileErr.Error(), ": ") // drop "corral.toml:N"
		if got := apiErr.Error(); got != "bad request: "+want {
			t.Errorf("%s: API error\n  %q\nwant the config file's\n  %q", tc.json, got, "bad request: "+want)
		}
		if !strings.Contains(apiErr.Error(), `program "web"`) || !strings.Contains(apiErr.Error(), "key ") {
			t.Errorf("%s: %q does not name the program and the field", tc.json, apiErr)
		}
	}
}

func BenchmarkParseProgramNested(b *testing.B) {
	body := nestedBody(10000)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := api.ParseProgram(body); err == nil {
			b.Fatal("accepted")
		}
	}
}

// discard is a ResponseWriter that keeps only a byte count, so that what
// the handler allocates can be measured alone.
type discard struct {
	h      http.Header
	status int
	n      int64
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(status int)      { d.status = status }
func (d *discard) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }

// TestLogTailStreamsFromTheFile: ?tail=999999999999 sends the whole kept
// log without holding it in memory.
func TestLogTailStreamsFromTheFile(t *testing.T) {
	dir := t.TempDir()
	const size = 4 << 20
	path := filepath.Join(dir, "corral.toml")
	body := "[daemon]\nsocket = \"sock\"\nstate_dir = \"state\"\nlog_dir = \"logs\"\n\n" +
		"[program.big]\ncommand = [\"sh\", \"-c\", \"head -c " + strconv.Itoa(size) + " /dev/zero | tr '\\\\000' x; exec sleep 1000\"]\nstart_secs = \"0s\"\n" +
		"stdout = { file = \"" + dir + "/big.log\" }\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(cfg, daemon.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		defer cancel()
		_ = d.Shutdown(ctx)
	})
	h := api.Handler(d)
	get := func(query string) (*discard, uint64) {
		w := &discard{h: http.Header{}}
		r := httptest.NewRequest(http.MethodGet, "/v1/processes/big/logs?"+query, nil)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		h.ServeHTTP(w, r)
		runtime.ReadMemStats(&after)
		return w, after.TotalAlloc - before.TotalAlloc
	}
	waitFor := func() {
		for range int(hang.Seconds() * 50) {
			if w, _ := get("offset=" + strconv.Itoa(size-1)); w.n == 1 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("the log never reached its size")
	}
	waitFor()
	w, alloc := get("tail=999999999999")
	if w.status != http.StatusOK || w.n != size || w.h.Get("X-Corral-Log-Offset") != "0" {
		t.Fatalf("tail=999999999999: status %d, %d bytes from offset %s; want 200, %d bytes from 0", w.status, w.n, w.h.Get("X-Corral-Log-Offset"), size)
	}
	if alloc > 1<<20 {
		t.Errorf("tail=999999999999 of a %d-byte log allocated %d bytes; want it streamed (< 1 MiB)", size, alloc)
	}
	for _, tc := range []struct {
		query  string
		status int
		n      int64
		offset string
	}{
		{"tail=0", 200, 0, strconv.Itoa(size)},
		{"tail=10", 200, 10, strconv.Itoa(size - 10)},
		{"tail=-1", 400, -1, ""},
		{"offset=0", 200, size, "0"},
		{"offset=-10", 200, 10, strconv.Itoa(size - 10)},
		{"offset=-999999999999", 200, size, "0"},
		{"offset=-9223372036854775808", 400, -1, ""},
		{"offset=9223372036854775807", 200, 0, strconv.Itoa(size)},
		{"offset=x", 400, -1, ""},
		{"tail=1&offset=1", 400, -1, ""},
	} {
		w, _ := get(tc.query)
		if w.status != tc.status || (tc.n >= 0 && w.n != tc.n) || w.h.Get("X-Corral-Log-Offset") != tc.offset {
			t.Errorf("%s: status %d, %d bytes, offset %q; want %d, %d, %q", tc.query, w.status, w.n, w.h.Get("X-Corral-Log-Offset"), tc.status, tc.n, tc.offset)
		}
	}
}

// TestBodiesWithTrailingBytesAreRefused: a body is one JSON value; a stray
// closing brace after it (which json.Decoder.More does not see) is refused.
func TestBodiesWithTrailingBytesAreRefused(t *testing.T) {
	srv := startServer(t, "")
	for _, tc := range []struct{ path, body string }{
		{"/v1/programs", `{"name":"w","command":"sleep 1"}}`},
		{"/v1/programs", `{"name":"w","command":"sleep 1"} {"name":"v"}`},
		{"/v1/actions/start", `{"targets":["w"]}]`},
		{"/v1/processes/w/signal", `{"signal":"HUP"}}`},
	} {
		resp, err := http.Post(srv.URL+tc.path, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "after the JSON value") {
			t.Errorf("POST %s %s = %d %s, want 400 naming the trailing bytes", tc.path, tc.body, resp.StatusCode, b)
		}
	}
}
