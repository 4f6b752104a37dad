package initmode_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
)

// corral init --config runs the daemon's readiness and dependencies: db
// notifies (systemd-notify on the abstract NOTIFY_SOCKET), migrate runs
// once after it, app after migrate completed.
func TestInitConfigDependencyChain(t *testing.T) {
	requireTools(t)
	if _, err := exec.LookPath("systemd-notify"); err != nil {
		t.Fatalf("systemd-notify (Debian package systemd) is needed: %v", err)
	}
	dir := t.TempDir()
	conf := writeConfig(t, dir, "corral.toml", fmt.Sprintf(`
[program.app]
command = ["sh", "-c", "echo app >> %[1]s/order; exit 7"]
requires = ["migrate:completed", "db"]
restart = "no"
start_secs = 0

[program.migrate]
command = ["sh", "-c", "echo migrate >> %[1]s/order"]
type = "oneshot"
requires = ["db"]

[program.db]
command = ["sh", "-c", "sleep 0.2; echo db >> %[1]s/order; systemd-notify --ready; exec sleep 30"]
ready = "notify"
start_secs = 0
`, dir))
	code := start(t, dir, pidns([]string{corralBin, "init", "--config", conf, "--exit-on", "app"})).wait()
	if code != 7 {
		t.Errorf("exit %d, want 7 (app's code)", code)
	}
	if got := readTrim(filepath.Join(dir, "order")); got != "db\nmigrate\napp" {
		t.Errorf("started in order %q, want db, migrate, app", got)
	}
}
