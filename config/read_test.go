package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadWithin runs Load and fails the test if it does not return within a
// generous bound: the files below used to block it (a FIFO) or make it read
// until memory ran out (/dev/zero).
func loadWithin(t *testing.T, path string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := Load(path)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("Load(%s) did not return within 20s", path)
		return nil
	}
}

// TestIncludeRefusesFilesThatAreNotRegular includes, through a glob, a
// named pipe, a symlink to /dev/zero, a directory and an oversized file:
// each is an error naming the file, returned at once.
func TestIncludeRefusesFilesThatAreNotRegular(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T, path string)
		want string
	}{
		{"named pipe", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			// Should the reader block after all, a writer that comes and
			// goes releases it, so no goroutine is left behind.
			t.Cleanup(func() {
				if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
			})
		}, "not a regular file (a named pipe)"},
		{"symlink to /dev/zero", func(t *testing.T, path string) {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file (a character device)"},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file (a directory)"},
		{"larger than MaxFileSize", func(t *testing.T, path string) {
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(MaxFileSize + 1); err != nil { // sparse
				t.Fatal(err)
			}
		}, "larger than the 4194304 bytes a configuration file may have"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "conf.d", "a.conf"), "[program:a]\ncommand = a\n")
			bad := filepath.Join(dir, "conf.d", "b.conf")
			tt.make(t, bad)
			main := filepath.Join(dir, "supervisord.conf")
			writeFile(t, main, "[supervisord]\n[include]\nfiles = conf.d/*.conf\n")
			err := loadWithin(t, main)
			if err == nil {
				t.Fatal("Load accepted it")
			}
			for _, want := range []string{main + ":3: [include]", bad + ": " + tt.want} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

// TestLoadRefusesMainFileThatIsNotRegular: the same rule for the file named
// on the command line, which a reload reads again.
func TestLoadRefusesMainFileThatIsNotRegular(t *testing.T) {
	path := filepath.Join(t.TempDir(), "corral.toml")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	err := loadWithin(t, path)
	if err == nil || !strings.Contains(err.Error(), path+": not a regular file (a named pipe)") {
		t.Errorf("Load of a named pipe: %v", err)
	}
}

// TestLoadReadsFileOfMaxFileSize: the limit itself is allowed.
func TestLoadReadsFileOfMaxFileSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "corral.toml")
	body := "[program.a]\ncommand = \"a\"\n"
	body += strings.Repeat("#", MaxFileSize-len(body)-1) + "\n"
	writeFile(t, path, body)
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Programs) != 1 {
		t.Errorf("programs: %+v", cfg.Programs)
	}
}

// Unrelated configurations never share a state directory: without
// state_dir each file gets one of its own under the default, named after
// it, the same at every start; state_dir (TOML) is used as written.
func TestStateDirIsPerConfigurationFile(t *testing.T) {
	dir := t.TempDir()
	base := DefaultDaemon().StateDir
	load := func(path, data string) Daemon {
		t.Helper()
		writeFile(t, path, data)
		cfg, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Daemon
	}
	ini := "[program:pool]\ncommand = sleep 1\n"
	a := load(filepath.Join(dir, "a", "supervisord.conf"), ini)
	b := load(filepath.Join(dir, "b", "supervisord.conf"), ini)
	again := load(filepath.Join(dir, "a", "supervisord.conf"), ini)
	toml := load(filepath.Join(dir, "c", "corral.toml"), "[program.pool]\ncommand = \"sleep 1\"\n")
	if a.StateDir == b.StateDir || a.StateDir != again.StateDir || toml.StateDir == a.StateDir {
		t.Errorf("state directories: a %s, b %s, a again %s, toml %s", a.StateDir, b.StateDir, again.StateDir, toml.StateDir)
	}
	for _, d := range []Daemon{a, b, toml} {
		if filepath.Dir(d.StateDir) != base || !strings.HasPrefix(filepath.Base(d.StateDir), "supervisord.conf-") && !strings.HasPrefix(filepath.Base(d.StateDir), "corral.toml-") || d.SharedStateDir != base {
			t.Errorf("state directory %s (shared %s), want BASE/NAME-HASH under %s", d.StateDir, d.SharedStateDir, base)
		}
	}
	set := load(filepath.Join(dir, "d", "corral.toml"), "[daemon]\nstate_dir = \"st\"\n")
	if set.StateDir != filepath.Join(dir, "d", "st") || set.SharedStateDir != "" {
		t.Errorf("state_dir: %s (shared %q)", set.StateDir, set.SharedStateDir)
	}
	if got := KeyedStateDir("/b", "/etc/x y/sup ervisord.conf"); got != "/b/sup_ervisord.conf-"+got[len(got)-16:] || len(filepath.Base(got)) != len("sup_ervisord.conf-")+16 {
		t.Errorf("KeyedStateDir = %s", got)
	}
}
