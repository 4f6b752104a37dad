package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
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

// tcpTarget is a listening port (accepting and closing) and a port that
// refuses connections.
func tcpTarget(t *testing.T) (up, down string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down = closed.Addr().String()
	closed.Close()
	return ln.Addr().String(), down
}

func healthPrograms(up, down string) string {
	p := func(name, addr string) string {
		return "[program." + name + "]\ncommand = \"sleep 1000\"\nstart_secs = \"0s\"\n" +
			"[program." + name + ".health]\ntcp = \"" + addr + "\"\ninterval = \"50ms\"\nretries = 1\non_unhealthy = \"ignore\"\n"
	}
	return p("up", up) + p("down", down) + "[program.plain]\ncommand = \"sleep 1000\"\nstart_secs = \"0s\"\n"
}

func getHealth(t *testing.T, url string) (int, api.HealthResponse, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var hr api.HealthResponse
	_ = json.Unmarshal(b, &hr)
	return resp.StatusCode, hr, string(b)
}

func TestHealthEndpointAnswers200Or503(t *testing.T) {
	up, down := tcpTarget(t)
	srv := startServer(t, healthPrograms(up, down))
	deadline := time.Now().Add(hang)
	for {
		code, hr, _ := getHealth(t, srv.URL+"/v1/health")
		if code == 503 && len(hr.Processes) == 2 && hr.Processes[0].Status == "unhealthy" && hr.Processes[1].Status == "healthy" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never up healthy and down unhealthy: %d %+v", code, hr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, tc := range []struct {
		query string
		code  int
		names string
	}{
		{"?names=up", 200, "up"},
		{"?names=down", 503, "down"},
		{"?names=up,down", 503, "down,up"},
		{"?names=up&names=down", 503, "down,up"},
		{"", 503, "down,up"},
		{"?names=plain", 404, ""},
		{"?names=nosuch", 404, ""},
	} {
		code, hr, body := getHealth(t, srv.URL+"/v1/health"+tc.query)
		var names []string
		for _, p := range hr.Processes {
			names = append(names, p.Name)
		}
		if code != tc.code || strings.Join(names, ",") != tc.names {
			t.Errorf("GET /v1/health%s: %d %s, want %d with %q", tc.query, code, body, tc.code, tc.names)
		}
		if code == 200 && (!hr.Healthy || hr.Processes[0].Last == nil || !hr.Processes[0].Last.OK) {
			t.Errorf("GET /v1/health%s: %s", tc.query, body)
		}
	}
	// inspect shows the last results.
	resp, err := http.Get(srv.URL + "/v1/processes/down")
	if err != nil {
		t.Fatal(err)
	}
	var p api.Process
	err = json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if err != nil || p.Health == nil || len(p.Health.Results) == 0 || p.Health.Results[0].Err == "" || p.Status.Health != "unhealthy" {
		t.Errorf("inspect down: %v %+v", err, p)
	}
	if h, ok := p.Config["health"].(map[string]any); !ok || h["tcp"] != down {
		t.Errorf("inspect config health: %+v", p.Config["health"])
	}
}

func TestHealthzServesOnlyLivezAndReadyz(t *testing.T) {
	up, down := tcpTarget(t)
	d := startDaemon(t, healthPrograms(up, down))
	hz := httptest.NewServer(api.HealthzHandler(d))
	t.Cleanup(hz.Close)
	get := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, hz.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	if code, body := get("GET", "/livez"); code != 200 || body != "ok\n" {
		t.Errorf("/livez: %d %q", code, body)
	}
	// down stays unhealthy: not ready, and ?verbose says who.
	deadline := time.Now().Add(hang)
	for {
		code, body := get("GET", "/readyz?verbose")
		if code == 503 && strings.Contains(body, `"name": "down"`) && strings.Contains(body, `"status": "unhealthy"`) &&
			strings.Contains(body, `"name": "plain"`) && !strings.Contains(body, `"last"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz?verbose never listed down unhealthy: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body := get("GET", "/readyz"); code != 503 || body != "not ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v1/processes"}, {"GET", "/metrics"}, {"GET", "/"}, {"POST", "/v1/shutdown"},
		{"POST", "/livez"}, {"DELETE", "/readyz"},
	} {
		if code, _ := get(tc.method, tc.path); code != 404 && code != 405 {
			t.Errorf("%s %s: %d, want 404 or 405", tc.method, tc.path, code)
		}
	}
	if _, err := d.StopProcesses(t.Context(), []string{"down"}, true); err != nil {
		t.Fatal(err)
	}
	for {
		code, body := get("GET", "/readyz")
		if code == 200 && body == "ok\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz with down stopped: %d %q", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.RequestShutdown()
	if code, _ := get("GET", "/livez"); code != 503 {
		t.Errorf("/livez after a shutdown request: %d, want 503", code)
	}
}

// startDaemon is startServer without the API server.
func startDaemon(t *testing.T, programs string) *daemon.Daemon {
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
	return d
}

func TestEventStreamCarriesHealthChanges(t *testing.T) {
	up, down := tcpTarget(t)
	srv := startServer(t, healthPrograms(up, down))
	waitRunning(t, srv, "up")
	resp, err := http.Get(srv.URL + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r, err := http.Post(srv.URL+"/v1/processes/up/restart", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	dec := json.NewDecoder(resp.Body)
	var got []string
	timer := time.AfterFunc(hang, func() { resp.Body.Close() })
	defer timer.Stop()
	for len(got) == 0 || got[len(got)-1] != "healthy" {
		var e api.Event
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("stream ended (%v) after health events %v", err, got)
		}
		if e.Type == "health" && e.Name == "up" {
			got = append(got, e.Health)
		}
	}
	// The restart: no health while it stops, starting at the spawn, then
	// healthy (the first change may be from before the restart).
	s := strings.Join(got, ",")
	if !strings.HasSuffix(s, ",starting,healthy") {
		t.Errorf("health events of up: %q, want ...,starting,healthy after the restart", s)
	}
}
