package daemon

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

var activityLine = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (CRIT|ERRO|WARN|INFO|DEBG|TRAC|BLAT) `)

// Each supervisord loglevel keeps the records at or above it, with
// supervisord's level names; corral's own Info records count as DEBG, so
// at info the log holds supervisord's lines only.
func TestActivityHandlerLevels(t *testing.T) {
	emit := func(log *slog.Logger) {
		Activity(log, LevelCritical, "crit line")
		Activity(log, slog.LevelError, "erro line")
		Activity(log, slog.LevelWarn, "warn line")
		Activity(log, slog.LevelInfo, "info line")
		Activity(log, slog.LevelDebug, "debg line")
		Activity(log, LevelTrace, "trac line")
		Activity(log, LevelBlather, "blat line")
		log.Info("corral's own", "program", "web", "n", 2)
		log.Warn("corral warns", "err", "a b")
	}
	for _, tc := range []struct {
		level string
		want  []string
	}{
		{"critical", []string{"CRIT crit line"}},
		{"error", []string{"CRIT crit line", "ERRO erro line"}},
		{"warn", []string{"CRIT crit line", "ERRO erro line", "WARN warn line", `WARN corral warns err="a b"`}},
		{"info", []string{"CRIT crit line", "ERRO erro line", "WARN warn line", "INFO info line", `WARN corral warns err="a b"`}},
		{"debug", []string{"CRIT crit line", "ERRO erro line", "WARN warn line", "INFO info line", "DEBG debg line",
			"DEBG corral's own program=web n=2", `WARN corral warns err="a b"`}},
		{"blather", []string{"CRIT crit line", "ERRO erro line", "WARN warn line", "INFO info line", "DEBG debg line",
			"TRAC trac line", "BLAT blat line", "DEBG corral's own program=web n=2", `WARN corral warns err="a b"`}},
	} {
		var buf bytes.Buffer
		emit(slog.New(NewActivityHandler(ActivityLevel(tc.level), &buf)))
		var got []string
		for l := range strings.Lines(buf.String()) {
			if !activityLine.MatchString(l) {
				t.Errorf("%s: not supervisord's format: %q", tc.level, l)
				continue
			}
			got = append(got, strings.TrimSuffix(l[24:], "\n"))
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("loglevel %s:\ngot:\n%s\nwant:\n%s", tc.level, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

// A process name or message that is not valid UTF-8 is written as valid
// UTF-8, on one line, and the log goes on.
func TestActivityHandlerInvalidUTF8(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewActivityHandler(slog.LevelDebug, &buf))
	Activity(log, slog.LevelInfo, "spawned: '\xff\xfeweb' with pid 1")
	log.Info("own", "out", "a\xffb\nc")
	Activity(log, slog.LevelInfo, "after")
	out := buf.String()
	if !utf8.ValidString(out) {
		t.Errorf("log is not valid UTF-8: %q", out)
	}
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("%d lines, want 3: %q", n, out)
	}
	if !strings.Contains(out, "INFO after\n") {
		t.Errorf("the log stopped: %q", out)
	}
}

// logfile_maxbytes rotates the file into NAME.1 ... NAME.backups, the
// oldest dropped; every line is whole in exactly one file.
func TestRotatingFileKeepsBackups(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "supervisord.log")
	rf, err := OpenRotatingFile(name, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rf.Close() })
	line := strings.Repeat("x", 39) + "\n" // 40 bytes: two per file
	for i := 0; i < 8; i++ {
		if _, err := rf.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{name, name + ".1", name + ".2"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != line+line {
			t.Errorf("%s: %q, want two whole lines", f, b)
		}
	}
	if _, err := os.Stat(name + ".3"); err == nil {
		t.Errorf("%s.3 kept with logfile_backups = 2", name)
	}
}

// logfile=/dev/stdout (a symlink into /proc) is opened, and never rotated.
func TestRotatingFileDevStdout(t *testing.T) {
	rf, err := OpenRotatingFile("/dev/stdout", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	rf.Close()
	// A symlink elsewhere is refused.
	dir := t.TempDir()
	link := filepath.Join(dir, "log")
	if err := os.Symlink(filepath.Join(dir, "target"), link); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRotatingFile(link, 0, 0); err == nil {
		t.Errorf("opened the logfile through a symlink")
	}
}
