package main

import (
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
)

// newActivityLogger is the daemon's logger for a supervisord configuration:
// supervisord's activity log (see daemon.ActivityHandler), written to
// logfile, rotated by logfile_maxbytes and logfile_backups, and, with
// nodaemon and without silent, to standard output as well (supervisord
// writes both, so logfile=/dev/stdout shows each line twice there too).
// Without logfile it goes to standard output with nodaemon, to standard
// error otherwise (supervisord: supervisord.log in its directory).
func newActivityLogger(cfg config.Daemon, stdout, stderr io.Writer) (*slog.Logger, io.Closer, error) {
	a := cfg.Activity
	var ws []io.Writer
	var closer io.Closer = io.NopCloser(nil)
	if cfg.NoDaemon && !a.Silent {
		ws = append(ws, stdout)
	}
	if cfg.Logfile != "" {
		rf, err := daemon.OpenRotatingFile(cfg.Logfile, a.MaxBytes, a.Backups)
		if err != nil {
			return nil, nil, err
		}
		ws, closer = append(ws, rf), rf
	} else if len(ws) == 0 {
		ws = append(ws, stderr)
	}
	return slog.New(daemon.NewActivityHandler(daemon.ActivityLevel(a.Level), ws...)), closer, nil
}

// logSupervisordStart writes the lines supervisord writes once it is ready
// (supervisord.py, options.py), when the configuration is supervisord's.
// setUID is the uid [supervisord] user made the daemon, or -1.
func logSupervisordStart(cfg *config.Config, log *slog.Logger, setUID int) {
	if cfg.Daemon.Activity == nil {
		return
	}
	if setUID >= 0 {
		daemon.Activity(log, slog.LevelInfo, "Set uid to user "+strconv.Itoa(setUID)+" succeeded")
	} else if os.Geteuid() == 0 {
		daemon.Activity(log, daemon.LevelCritical, "Supervisor is running as root.  Privileges were not dropped "+
			"because no user is specified in the config file.  If you intend to run as root, you can set "+
			"user=root in the config file to avoid this message.")
	}
	if cfg.Daemon.Activity.RPCInterface {
		daemon.Activity(log, slog.LevelInfo, "RPC interface 'supervisor' initialized")
	}
	if u := cfg.UnixHTTP; u != nil && u.Username == "" {
		daemon.Activity(log, daemon.LevelCritical, "Server 'unix_http_server' running without any HTTP authentication checking")
	}
	daemon.Activity(log, slog.LevelInfo, "supervisord started with pid "+strconv.Itoa(os.Getpid()))
}

// reportUnstopped says which processes a shutdown waits for when it begins
// and every 3 seconds until done is closed, as supervisord does.
func reportUnstopped(d *daemon.Daemon, done <-chan struct{}) {
	t := time.NewTicker(3 * time.Second)
	defer t.Stop()
	for d.ReportUnstopped() > 0 {
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

// reopenLog reopens the activity log's file (SIGUSR2, after an outside
// rotation such as logrotate's), when the log has one.
func reopenLog(c io.Closer, log *slog.Logger) {
	if rf, ok := c.(*daemon.RotatingFile); ok {
		if err := rf.Reopen(); err != nil {
			daemon.Activity(log, slog.LevelError, "could not reopen the log file: "+err.Error())
		}
	}
}
