package initmode

import (
	"syscall"
	"testing"

	"github.com/corralhq/corral/monitor"
)

func TestExitCodeRules(t *testing.T) {
	for _, c := range []struct {
		name string
		exit *monitor.ExitInfo
		code int
	}{
		{"exit 0", &monitor.ExitInfo{Code: 0}, 0},
		{"exit 5", &monitor.ExitInfo{Code: 5}, 5},
		{"SIGKILL", &monitor.ExitInfo{Code: -1, Signal: syscall.SIGKILL}, 137},
		{"SIGTERM", &monitor.ExitInfo{Code: -1, Signal: syscall.SIGTERM}, 143},
		{"never ran", nil, 1},
	} {
		if got := ExitCode(c.exit); got != c.code {
			t.Errorf("%s: ExitCode %d, want %d", c.name, got, c.code)
		}
	}
}
