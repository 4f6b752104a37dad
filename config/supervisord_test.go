package config

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// supervisorPython returns a python3 that can import Debian's
// python3-supervisor (Debian's own /usr/bin/python3 first: a python3 from
// another installation earlier in $PATH may lack it). It fails the test when
// there is none.
func supervisorPython(t *testing.T) string {
	t.Helper()
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, py := range cands {
		if exec.Command(py, "-c", "import supervisor.options").Run() == nil {
			return py
		}
	}
	t.Fatalf("no python3 with the supervisor package (Debian: apt-get install supervisor) among %q", cands)
	return ""
}

// supervisordView is what testdata/supervisord_parse.py prints: the
// configuration as supervisord 4's own ServerOptions reads it.
type supervisordView struct {
	Programs map[string]struct {
		Group          string   `json:"group"`
		Argv           []string `json:"argv"`
		Autostart      bool     `json:"autostart"`
		Priority       int      `json:"priority"`
		Directory      *string  `json:"directory"`
		Startsecs      int      `json:"startsecs"`
		RedirectStderr bool     `json:"redirect_stderr"`
	} `json:"programs"`
	Servers []struct {
		Family int    `json:"family"`
		File   string `json:"file"`
		Chmod  int    `json:"chmod"`
		Chown  []int  `json:"chown"`
	} `json:"servers"`
	Warnings []string `json:"warnings"`
}

func readBySupervisord(t *testing.T, path string) supervisordView {
	t.Helper()
	out, err := exec.Command(supervisorPython(t), filepath.Join("testdata", "supervisord_parse.py"), path).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("supervisord's reader: %v\n%s", err, stderr)
	}
	var v supervisordView
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("supervisord's reader printed %q: %v", out, err)
	}
	return v
}

// TestINIReadsLikeSupervisord reads configuration files with corral and
// with supervisord's own reader and compares the outcome: sections of the
// same name merged across the main file and its includes (and within one
// file), later keys winning, %(here)s of the file that sets the key,
// command= split by shlex, and supervisord's warnings.
func TestINIReadsLikeSupervisord(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // the first key sorted is the main file
	}{
		{"server section split across an include", map[string]string{
			"a.conf":            "[supervisord]\nlogfile = %(here)s/s.log\n[unix_http_server]\nfile = %(here)s/s.sock\n[include]\nfiles = conf.d/*.conf\n[program:web]\ncommand = web\n",
			"conf.d/chown.conf": "[unix_http_server]\nchown = nobody:nogroup\nchmod = 0770\n",
		}},
		{"program defined twice in the main file and again in an include", map[string]string{
			"a.conf":     "[supervisord]\nlogfile = %(here)s/s.log\n[program:a]\ncommand = one\npriority = 5\n[include]\nfiles = inc/*.conf\n[program:a]\nautostart = false\nstartsecs = 3\n",
			"inc/x.conf": "[program:a]\npriority = 7\ndirectory = %(here)s\ncommand = two \"x\\$HOME\" 'y z'\n[program:b]\ncommand = b\n",
			"inc/y.conf": "[program:b]\nautostart = false\n",
		}},
		{"group merged, later programs list wins", map[string]string{
			"a.conf": "[supervisord]\nlogfile = %(here)s/s.log\n[group:g]\nprograms = a\n[program:a]\ncommand = a\n[program:b]\ncommand = b\n[include]\nfiles = g.ini\n",
			"g.ini":  "[group:g]\nprograms = a,b\npriority = 3\n",
		}},
		{"redirect_stderr with a stderr_logfile", map[string]string{
			"a.conf": "[supervisord]\nlogfile = %(here)s/s.log\n[program:r]\ncommand = r\nredirect_stderr = true\nstderr_logfile = /tmp/never.err\n[program:auto]\ncommand = a\nredirect_stderr = true\nstderr_logfile = AUTO\n[program:none]\ncommand = n\nredirect_stderr = true\nstderr_logfile = NONE\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var names []string
			for name, data := range tt.files {
				writeFile(t, filepath.Join(dir, name), data)
				names = append(names, name)
			}
			slices.Sort(names)
			main := filepath.Join(dir, names[0])
			want := readBySupervisord(t, main)
			cfg, err := Load(main)
			if err != nil {
				t.Fatalf("corral: %v", err)
			}

			var got []string
			for _, p := range cfg.Programs {
				got = append(got, p.Name)
				w, ok := want.Programs[p.Name]
				if !ok {
					t.Errorf("corral has program %q, supervisord does not", p.Name)
					continue
				}
				dirWant := ""
				if w.Directory != nil {
					dirWant = *w.Directory
				}
				if !slices.Equal(p.Command, w.Argv) || p.Autostart != w.Autostart || p.Priority != w.Priority ||
					p.Directory != dirWant || int(p.StartPeriod.Seconds()) != w.Startsecs ||
					p.Stderr.Redirect != w.RedirectStderr || p.Group != w.Group {
					t.Errorf("program %q: corral reads command %q autostart %v priority %d directory %q startsecs %v redirect %v group %q;\nsupervisord: %+v",
						p.Name, p.Command, p.Autostart, p.Priority, p.Directory, p.StartPeriod, p.Stderr.Redirect, p.Group, w)
				}
			}
			if len(got) != len(want.Programs) {
				t.Errorf("corral reads programs %q, supervisord %d: %+v", got, len(want.Programs), want.Programs)
			}

			for _, s := range want.Servers {
				if s.Family != 1 { // AF_UNIX
					continue
				}
				u := cfg.UnixHTTP
				if u == nil || u.File != s.File || int(u.Chmod) != s.Chmod || (u.Chown != "") != (s.Chown[0] != -1) {
					t.Errorf("[unix_http_server]: corral %+v, supervisord %+v", u, s)
				}
			}

			// supervisord says "For [section], text"; corral says
			// "file:line: [section] text".
			for _, w := range want.Warnings {
				sec, text, ok := strings.Cut(strings.TrimPrefix(w, "For "), ", ")
				if !ok {
					t.Fatalf("unexpected supervisord warning %q", w)
				}
				if !slices.ContainsFunc(cfg.Warnings, func(g string) bool { return strings.HasSuffix(g, ": "+sec+" "+text) }) {
					t.Errorf("supervisord warns %q; corral's warnings: %q", w, cfg.Warnings)
				}
			}
			for _, g := range cfg.Warnings {
				if strings.Contains(g, "redirect_stderr") && !slices.ContainsFunc(want.Warnings, func(w string) bool { return strings.Contains(w, "redirect_stderr") }) {
					t.Errorf("corral warns %q, supervisord does not", g)
				}
			}
		})
	}
}
