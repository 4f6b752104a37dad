package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral/api"
	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
)

const hang = 60 * time.Second

func startServer(t *testing.T, programs string) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "corral.toml")
	body := "[daemon]\nsocket = \"sock\"\nstate_dir = \"state\"\nlog_dir = \"logs\"\n\n" + programs
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(cfg, daemon.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	srv := httptest.NewServer(api.Handler(d))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		defer cancel()
		_ = d.Shutdown(ctx)
		srv.Close()
	})
	return srv
}

func waitRunning(t *testing.T, srv *httptest.Server, name string) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for time.Now().Before(deadline) {
		resp, err := http.Get(srv.URL + "/v1/processes?name=" + name)
		if err == nil {
			var sts []daemon.ProcessStatus
			_ = json.NewDecoder(resp.Body).Decode(&sts)
			resp.Body.Close()
			if len(sts) == 1 && sts[0].State == "RUNNING" {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never RUNNING", name)
}

func TestErrorsAreJSONWithAStatusThatClassifiesThem(t *testing.T) {
	srv := startServer(t, "[program.web]\ncommand = \"sleep 1000\"\nstart_secs = \"0s\"\n")
	waitRunning(t, srv, "web")
	for _, tc := range []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"GET", "/v1/processes/nosuch", "", 404, `no such process: "nosuch"`},
		{"POST", "/v1/processes/nosuch/start", "", 404, "no such process"},
		{"POST", "/v1/processes/web/start", "", 409, "already started"},
		{"POST", "/v1/processes/web/signal", `{"signal":"BOGUS"}`, 400, `unknown signal`},
		{"POST", "/v1/processes/web/signal", `{"sig":"HUP"}`, 400, `unknown field "sig"`},
		{"POST", "/v1/processes/web/start?wait=maybe", "", 400, "want true or false"},
		{"POST", "/v1/programs", `{"name":"web","command":"sleep 1"}`, 409, "already exists"},
		{"POST", "/v1/programs", `{"name":"x","command":"sleep 1","stop_signal":"TERMX"}`, 400, `program "x": key "stop_signal": unknown signal "TERMX"`},
		{"POST", "/v1/programs", `{"name":"x","command":"sleep 1","numprocs":"two"}`, 400, `key "numprocs": must be an integer`},
		{"POST", "/v1/programs", `{"name":"x","command":"sleep 1","directory":"rel"}`, 400, `key "directory": "rel" is a relative path`},
		{"POST", "/v1/programs", `{"command":"sleep 1"}`, 400, `missing "name"`},
		{"DELETE", "/v1/programs/nosuch", "", 404, `no such program: "nosuch"`},
		{"GET", "/v1/processes/web/logs?stream=both", "", 400, "want stdout or stderr"},
		{"GET", "/v1/nothing", "", 404, "no API route"},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var er api.ErrorResponse
		err = json.NewDecoder(resp.Body).Decode(&er)
		resp.Body.Close()
		if resp.StatusCode != tc.status || err != nil || !strings.Contains(er.Error, tc.msg) {
			t.Errorf("%s %s: %d %q (%v), want %d with %q", tc.method, tc.path, resp.StatusCode, er.Error, err, tc.status, tc.msg)
		}
	}
}

func TestAddedProgramGetsTheConfigFileDefaults(t *testing.T) {
	p, err := api.ParseProgram([]byte(`{"name":"w","command":["sleep","5"],"environment":{"A":"1"},"start_secs":"0s","backoff":{"factor":3}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := config.NewProgram("w")
	if p.StopTimeout != want.StopTimeout || p.Priority != want.Priority || p.Restart != want.Restart || p.Backoff.Initial != want.Backoff.Initial {
		t.Errorf("defaults differ from the TOML ones: %+v", p)
	}
	if p.StartPeriod != 0 || p.Backoff.Factor != 3 || strings.Join(p.Environment, ",") != "A=1" || strings.Join(p.Command, " ") != "sleep 5" {
		t.Errorf("fields not taken: %+v", p)
	}
	back, err := json.Marshal(api.ProgramFields(p))
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	_ = json.Unmarshal(back, &fields)
	delete(fields, "group")
	delete(fields, "source")
	again, _ := json.Marshal(fields)
	p2, err := api.ParseProgram(again)
	if err != nil {
		t.Fatalf("ProgramFields does not parse back: %v\n%s", err, again)
	}
	p.Source, p2.Source = config.Position{}, config.Position{}
	b1, _ := json.Marshal(p)
	b2, _ := json.Marshal(p2)
	if string(b1) != string(b2) {
		t.Errorf("round trip changed the program:\n%s\n%s", b1, b2)
	}
}

func TestFollowStreamsBytesAsTheyAreWritten(t *testing.T) {
	srv := startServer(t, `[program.talk]
command = ["sh", "-c", "trap 'echo again' USR1; echo first; while true; do sleep 0.05; done"]
start_secs = "0s"
`)
	waitRunning(t, srv, "talk")
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/processes/talk/logs?follow=true", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Corral-Log-Offset") != "0" {
		t.Fatalf("status %d, offset %q", resp.StatusCode, resp.Header.Get("X-Corral-Log-Offset"))
	}
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() || lines.Text() != "first" {
		t.Fatalf("first line %q, %v", lines.Text(), lines.Err())
	}
	// The trap is set before "first" is written, so no USR1 sent from now
	// on can kill the shell (which would restart it and write "first"
	// again). Signal until the follower sees the new line: a signal that
	// arrives during sleep is handled when sleep ends.
	got := make(chan string, 1)
	go func() {
		if lines.Scan() {
			got <- lines.Text()
		}
		close(got)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		r, _ := http.Post(srv.URL+"/v1/processes/talk/signal", "application/json", strings.NewReader(`{"signal":"USR1"}`))
		if r != nil {
			r.Body.Close()
		}
		select {
		case l := <-got:
			if l != "again" {
				t.Fatalf("followed line %q, want again", l)
			}
			return
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal("the follower never got the new line")
		}
	}
}

func TestEventStreamNamesTypesAndStates(t *testing.T) {
	srv := startServer(t, "[program.web]\ncommand = \"sleep 1000\"\nstart_secs = \"0s\"\n")
	waitRunning(t, srv, "web")
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r, err := http.Post(srv.URL+"/v1/processes/web/restart?wait=true", "application/json", nil)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("restart: %v %v", err, r)
	}
	r.Body.Close()
	dec := json.NewDecoder(resp.Body)
	var types []string
	for {
		var e api.Event
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("after %v: %v", types, err)
		}
		types = append(types, e.Type+":"+e.From+"->"+e.State)
		if e.Type == "running" {
			break
		}
	}
	want := "stopping:RUNNING->STOPPING exited:STOPPING->STOPPED stopped:STOPPING->STOPPED starting:STOPPED->STARTING running:STARTING->RUNNING"
	if strings.Join(types, " ") != want {
		t.Errorf("events %v\nwant %s", types, want)
	}
}
