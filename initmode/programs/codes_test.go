package programs

import (
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/initmode"
	"github.com/corralhq/corral/monitor"
)

func TestFatalCodeRules(t *testing.T) {
	for _, c := range []struct {
		name  string
		exit  *monitor.ExitInfo
		fatal int
	}{
		{"exit 0", &monitor.ExitInfo{Code: 0}, 1},
		{"exit 5", &monitor.ExitInfo{Code: 5}, 5},
		{"SIGKILL", &monitor.ExitInfo{Code: -1, Signal: syscall.SIGKILL}, 137},
		{"SIGTERM", &monitor.ExitInfo{Code: -1, Signal: syscall.SIGTERM}, 143},
		{"never ran", nil, 127},
	} {
		if got := fatalCode(c.exit); got != c.fatal {
			t.Errorf("%s: fatalCode %d, want %d", c.name, got, c.fatal)
		}
	}
}

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
		if got := exitCode(c.exit); got != c.code {
			t.Errorf("%s: exitCode %d, want %d", c.name, got, c.code)
		}
	}
}

func TestPlanMatchesExitOnNamesAndOrdersByPriority(t *testing.T) {
	cfg, err := config.ParseTOML("corral.toml", []byte(`
[program.web]
command = "web"
numprocs = 2
process_name = "web-%(process_num)d"
priority = 20
[program.db]
command = "db"
priority = 10
[program.manual]
command = "manual"
autostart = false
`))
	if err != nil {
		t.Fatal(err)
	}
	o := initmode.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, c := range []struct {
		exitOn []string
		want   string // names, * marking exit-on
		err    string
	}{
		{nil, "db web:web-0 web:web-1", ""},
		{[]string{"web"}, "db web:web-0* web:web-1*", ""},
		{[]string{"web-1", "db"}, "db* web:web-0 web:web-1*", ""},
		{[]string{"web:web-0"}, "db web:web-0* web:web-1", ""},
		{[]string{"nope"}, "", `--exit-on "nope"`},
		{[]string{"manual"}, "", `--exit-on "manual"`},
	} {
		procs, err := plan(cfg, c.exitOn, o, nil)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("exit-on %v: error %v, want %q", c.exitOn, err, c.err)
			}
			continue
		}
		var names []string
		for _, p := range procs {
			n := p.spec.Name
			if p.exitOn {
				n += "*"
			}
			names = append(names, n)
		}
		if got := strings.Join(names, " "); err != nil || got != c.want {
			t.Errorf("exit-on %v: %q, %v; want %q", c.exitOn, got, err, c.want)
		}
	}
}
