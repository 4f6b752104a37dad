package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCgroupAndHookKeysInBothFormats(t *testing.T) {
	dir := t.TempDir()
	toml := filepath.Join(dir, "c.toml")
	ini := filepath.Join(dir, "c.conf")
	if err := os.WriteFile(toml, []byte(`[program.c]
command = "runc run --bundle /b c1"
memory_max = "512M"
cpu_max = "50%"
pids_max = 100
pre_start = ["runc", "delete", "-f", "c1"]
post_stop = "runc delete -f c1"
stop_command = "runc kill c1 TERM"
hook_timeout = "5s"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ini, []byte(`[program:c]
command = runc run --bundle /b c1
memory_max = 512M
cpu_max = 50%%
pids_max = 100
pre_start = runc delete -f c1
post_stop = runc delete -f c1
stop_command = runc kill c1 TERM
hook_timeout = 5
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{toml, ini} {
		cfg, err := Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		p := cfg.Programs[0]
		if p.MemoryMax != "536870912" || p.CPUMax != "50000 100000" || p.PidsMax != "100" {
			t.Errorf("%s: limits %q %q %q", f, p.MemoryMax, p.CPUMax, p.PidsMax)
		}
		h := p.Hooks
		if !slices.Equal(h.PreStart, []string{"runc", "delete", "-f", "c1"}) || !slices.Equal(h.PostStop, h.PreStart) ||
			!slices.Equal(h.StopCommand, []string{"runc", "kill", "c1", "TERM"}) || h.Timeout != 5*time.Second {
			t.Errorf("%s: hooks %+v", f, h)
		}
		for _, w := range cfg.Warnings {
			t.Errorf("%s: warning %s", f, w)
		}
	}
}

func TestCgroupKeyErrorsNameFileLineAndKey(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"[program.c]\ncommand = \"x\"\nmemory_max = \"lots\"\n", "memory_max"},
		{"[program.c]\ncommand = \"x\"\ncpu_max = \"0%\"\n", "cpu_max"},
		{"[program.c]\ncommand = \"x\"\npids_max = -1\n", "pids_max"},
		{"[program.c]\ncommand = \"x\"\npre_start = []\n", "pre_start"},
	} {
		f := filepath.Join(t.TempDir(), "c.toml")
		if err := os.WriteFile(f, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(f)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), f+":3") {
			t.Errorf("%q: error %v, want one naming %s:3 and %s", c.body, err, f, c.want)
		}
	}
}
