package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
)

// TestPanickingHandlerIsA500AndOneLogLine: a handler's panic becomes a 500
// with a JSON error and one line in the daemon's log at info level (the
// stack only at debug), and the daemon goes on serving.
func TestPanickingHandlerIsA500AndOneLogLine(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.ParseTOML(filepath.Join(dir, "corral.toml"), []byte("[daemon]\nstate_dir = \"state\"\nlog_dir = \"logs\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	d, err := daemon.New(cfg, daemon.Options{Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = d.Shutdown(ctx)
	})
	h := Handler(d).(*handler)
	h.mux.HandleFunc("GET /v1/test/panic", func(_ http.ResponseWriter, r *http.Request) {
		panic("boom in " + r.URL.Path + "\nsecond line")
	})
	logBuf.Reset()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/test/panic", nil))
	var e ErrorResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != http.StatusInternalServerError ||
		!strings.Contains(e.Error, "internal error: GET /v1/test/panic: boom in /v1/test/panic second line") {
		t.Errorf("panicking handler: %d %s, want 500 with a JSON error naming the panic", rec.Code, rec.Body)
	}
	logged := logBuf.String()
	if strings.Count(logged, "\n") != 1 || !strings.Contains(logged, "request panicked") {
		t.Errorf("daemon log after a panic:\n%s\nwant one line", logged)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/info", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("GET /v1/info after a panic: %d", rec.Code)
	}
}
