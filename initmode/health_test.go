package initmode_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func readyz(addr string) int {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInitHealthRestartsUnhealthyAndServesReadyz: corral init --config
// with a health-checked program and health_listen: /readyz follows the
// program's health, and an unhealthy program is restarted.
func TestInitHealthRestartsUnhealthyAndServesReadyz(t *testing.T) {
	requireTools(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	ok := filepath.Join(dir, "ok")
	if err := os.WriteFile(ok, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := writeConfig(t, dir, "corral.toml", fmt.Sprintf(`
[daemon]
health_listen = %q

[program.web]
command = ["sh", "-c", "echo $$ >> %s/spawns; exec sleep 1000"]
start_secs = 0
[program.web.health]
exec = ["test", "-e", %q]
interval = "50ms"
retries = 1
`, addr, dir, ok))
	r := start(t, dir, pidns([]string{corralBin, "init", "--config", conf}))
	waitUntil(t, "/readyz 200", func() bool { return readyz(addr) == 200 })
	if err := os.Remove(ok); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a restart of the unhealthy program", func() bool {
		return strings.Count(readTrim(filepath.Join(dir, "spawns")), "\n") >= 1
	})
	if code := readyz(addr); code != 503 {
		t.Errorf("/readyz %d with web restarted and not healthy, want 503", code)
	}
	if err := os.WriteFile(ok, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "/readyz 200 again", func() bool { return readyz(addr) == 200 })
	if err := syscall.Kill(r.pid1(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
}

func TestInitOnUnhealthyShutdownExits1(t *testing.T) {
	requireTools(t)
	dir := t.TempDir()
	conf := writeConfig(t, dir, "corral.toml", `
[program.web]
command = "sleep 1000"
start_secs = 0
[program.web.health]
exec = ["false"]
interval = "50ms"
retries = 2
on_unhealthy = "shutdown"
`)
	if code := start(t, dir, pidns([]string{corralBin, "init", "--config", conf})).wait(); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
}
