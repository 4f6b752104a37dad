package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/logs"
)

// shared is a log stream and the number of process streams (stdout or
// stderr) writing to it. Several programs may name one file, as in
// supervisord: they feed pipes into one logs.Stream, which the capture
// requires, and the stream closes when its last user goes.
type shared struct {
	s    *logs.Stream
	refs int
	// The rotation settings it was opened with, to warn about a second
	// program asking for others (not the whole StreamConfig: one of these
	// per log file, and 32 bytes where that made 64).
	maxBytes int64
	backups  int
}

// newCapture starts the log capture with the configured log group.
func newCapture(cfg config.Daemon, log *slog.Logger, onDrop func(logs.DropEvent)) (*logs.Capture, error) {
	gid, err := logGroup(cfg.LogGroup)
	if err != nil {
		return nil, err
	}
	// A daemon that drops root ([supervisord] user=) does it after opening
	// the streams, and may then not be allowed to create their files.
	dropsRoot := cfg.User != "" && !isRoot(cfg.User) && os.Geteuid() == 0
	return logs.New(logs.Options{Logger: log, OnDrop: onDrop, Group: gid, CreateAtOpen: dropsRoot})
}

// logGroup resolves the log_group setting (a name or a gid); 0 when unset.
func logGroup(name string) (int, error) {
	if name == "" {
		return 0, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		var err2 error
		if g, err2 = user.LookupGroupId(name); err2 != nil {
			return 0, fmt.Errorf("config: [daemon] log_group %q: %w", name, err)
		}
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("config: [daemon] log_group %q: gid %q: %w", name, g.Gid, err)
	}
	return gid, nil
}

// openStream opens a log stream, or takes one more reference to the stream
// already open on the same file. A log file that cannot be opened is an
// error the process carries (and the daemon logs), not a reason to refuse
// running the program: its output is then discarded. Caller holds d.mu.
func (d *Daemon) openStream(proc, stream string, ls config.LogSpec) (*logs.Stream, string) {
	path := ls.File
	if path == config.LogAuto {
		// A stable name, unlike supervisord's random one, so a process's
		// log is still there to read after a daemon restart.
		path = filepath.Join(d.cfg.Daemon.LogDir, strings.ReplaceAll(proc, "/", "_")+"-"+stream+".log")
		d.makeLogDir(proc, filepath.Dir(path))
	}
	maxBytes, backups := ls.MaxBytes, ls.Backups
	if maxBytes == 0 {
		maxBytes = -1
	}
	if backups == 0 {
		backups = -1
	}
	cfg := logs.StreamConfig{Path: path, MaxBytes: maxBytes, Backups: backups, Tap: d.outputTap(proc, stream)}
	key := ""
	if path != "" {
		key, _ = filepath.Abs(path)
		if sh, ok := d.streams[key]; ok {
			if sh.maxBytes != cfg.MaxBytes || sh.backups != cfg.Backups {
				d.log.Warn("log file shared with different rotation settings; the first program's apply",
					"program", proc, "stream", stream, "file", path)
			}
			sh.refs++
			return sh.s, ""
		}
	}
	s, err := d.capture.OpenStream(cfg)
	if err == nil {
		if key != "" {
			d.streams[key] = &shared{s: s, refs: 1, maxBytes: cfg.MaxBytes, backups: cfg.Backups}
		}
		return s, ""
	}
	msg := fmt.Sprintf("%s log: %v", stream, err)
	d.log.Error("cannot open log file; output will be discarded", "program", proc, "stream", stream, "err", err)
	s, err = d.capture.OpenStream(logs.StreamConfig{})
	if err != nil {
		return nil, msg
	}
	return s, msg
}

// makeLogDir creates the directory of AUTO logs, 0750 and with the log
// group, so that not every local user can read the programs' output.
func (d *Daemon) makeLogDir(proc, dir string) {
	if d.logDirsMade[dir] {
		return // made during this burst of opens (New)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		d.log.Error("cannot create log directory", "program", proc, "dir", dir, "err", err)
		return
	}
	if d.logDirsMade != nil {
		d.logDirsMade[dir] = true
	}
	gid := d.capture.Group()
	if gid <= 0 {
		return
	}
	if err := os.Lchown(dir, -1, gid); err != nil {
		d.log.Warn("cannot give the log directory its group", "dir", dir, "gid", gid, "err", err)
	}
}

// closeStream drops one reference to s, closing it with the last one.
// Caller holds d.mu.
func (d *Daemon) closeStream(s *logs.Stream) {
	if s == nil {
		return
	}
	if s.Path() != "" {
		key, _ := filepath.Abs(s.Path())
		if sh, ok := d.streams[key]; ok && sh.s == s {
			if sh.refs--; sh.refs > 0 {
				return
			}
			delete(d.streams, key)
		}
	}
	s.Close()
}

// closeStreams releases a process's streams. Caller holds d.mu.
func (d *Daemon) closeStreams(pr *proc) {
	d.closeStream(pr.stdout)
	d.closeStream(pr.stderr)
	pr.closeStdin()
}
