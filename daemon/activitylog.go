package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/monitor"
)

// supervisord's log levels (supervisor/loggers.py) as slog levels, so
// that slog's own Debug, Info, Warn and Error fall on DEBG, INFO, WARN and
// ERRO.
const (
	LevelBlather  slog.Level = -8
	LevelTrace    slog.Level = -6
	LevelCritical slog.Level = 12
)

// ActivityLevel is the slog level of a supervisord level name (see
// config.SupervisordLevel).
func ActivityLevel(name string) slog.Level {
	switch config.SupervisordLevel(name) {
	case "critical":
		return LevelCritical
	case "error":
		return slog.LevelError
	case "warn":
		return slog.LevelWarn
	case "debug":
		return slog.LevelDebug
	case "trace":
		return LevelTrace
	case "blather":
		return LevelBlather
	}
	return slog.LevelInfo
}

// activityName is supervisord's four-letter name of a level.
func activityName(l slog.Level) string {
	switch {
	case l >= LevelCritical:
		return "CRIT"
	case l >= slog.LevelError:
		return "ERRO"
	case l >= slog.LevelWarn:
		return "WARN"
	case l >= slog.LevelInfo:
		return "INFO"
	case l >= slog.LevelDebug:
		return "DEBG"
	case l >= LevelTrace:
		return "TRAC"
	}
	return "BLAT"
}

// activityKey marks a record written in supervisord's own words (see
// Activity): the handler prints its message alone at its level.
const activityKey = "supervisord"

// Activity logs msg, in supervisord's words, on log at level: with an
// ActivityHandler it is printed as supervisord prints it; with any other
// handler it is an ordinary record with supervisord=true.
func Activity(log *slog.Logger, level slog.Level, msg string) {
	log.LogAttrs(context.Background(), level, msg, slog.Bool(activityKey, true))
}

// ActivityHandler is a slog.Handler that writes supervisord's activity log:
// "2026-12-02 01:02:03,456 INFO spawned: 'web' with pid 12", one line per
// record, to every writer. Records logged with Activity keep their level;
// corral's own records, which supervisord would not write, are written one
// level lower when at Info (so at the default level the log holds
// supervisord's lines only), with their attributes as key=value.
type ActivityHandler struct {
	out   *activityOut
	level slog.Level
	attrs []byte // preformatted " key=value" pairs of WithAttrs
	group string
}

type activityOut struct {
	mu sync.Mutex
	ws []io.Writer
}

// NewActivityHandler returns a handler writing records at level or above
// to ws.
func NewActivityHandler(level slog.Level, ws ...io.Writer) *ActivityHandler {
	return &ActivityHandler{out: &activityOut{ws: ws}, level: level}
}

// Enabled reports whether a record at l may be written. corral's own Info
// records are written at DEBG, so Info is enabled down to debug only.
func (h *ActivityHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level || (l == slog.LevelInfo && slog.LevelDebug >= h.level)
}

// Handle writes one line.
func (h *ActivityHandler) Handle(_ context.Context, r slog.Record) error {
	level := r.Level
	own := false
	var kv []byte
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == activityKey && a.Value.Kind() == slog.KindBool && a.Value.Bool() {
			own = true
			return true
		}
		kv = appendAttr(kv, h.group, a)
		return true
	})
	if !own && level == slog.LevelInfo {
		level = slog.LevelDebug
	}
	if level < h.level {
		return nil
	}
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b := make([]byte, 0, 64+len(r.Message)+len(kv)+len(h.attrs))
	b = t.AppendFormat(b, "2006-01-02 15:04:05")
	b = fmt.Appendf(b, ",%03d %s ", t.Nanosecond()/int(time.Millisecond), activityName(level))
	b = append(b, strings.ToValidUTF8(r.Message, "\uFFFD")...)
	if !own {
		b = append(b, h.attrs...)
		b = append(b, kv...)
	}
	b = append(b, '\n')
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	var first error
	for _, w := range h.out.ws {
		if _, err := w.Write(b); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func appendAttr(b []byte, group string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		g := a.Key
		if group != "" {
			g = group + "." + g
		}
		for _, ga := range a.Value.Group() {
			b = appendAttr(b, g, ga)
		}
		return b
	}
	key := a.Key
	if group != "" {
		key = group + "." + key
	}
	v := a.Value.String()
	if v == "" || strings.ContainsAny(v, " =\"\t\n") || !utf8.ValidString(v) {
		v = strconv.Quote(v)
	}
	return fmt.Appendf(b, " %s=%s", key, v)
}

// WithAttrs returns a handler that adds attrs to corral's own records.
func (h *ActivityHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = slices.Clip(h.attrs)
	for _, a := range attrs {
		h2.attrs = appendAttr(h2.attrs, h.group, a)
	}
	return &h2
}

// WithGroup returns a handler that qualifies later attributes with name.
func (h *ActivityHandler) WithGroup(name string) slog.Handler {
	h2 := *h
	if h.group != "" {
		name = h.group + "." + name
	}
	h2.group = name
	return &h2
}

// RotatingFile is supervisord's rotating log file (logfile,
// logfile_maxbytes, logfile_backups): a write that takes the file past
// MaxBytes renames it to NAME.1 (NAME.1 to NAME.2 and so on, keeping
// Backups of them) and starts a new one. MaxBytes 0 never rotates, and a
// file that is not a regular file (logfile=/dev/stdout, a pipe) is never
// rotated.
type RotatingFile struct {
	mu       sync.Mutex
	name     string
	maxBytes int64
	backups  int
	f        *os.File
	size     int64
	regular  bool
}

// OpenRotatingFile opens name for appending, never through a symlink but
// those of /dev (/dev/stdout is one).
func OpenRotatingFile(name string, maxBytes int64, backups int) (*RotatingFile, error) {
	rf := &RotatingFile{name: name, maxBytes: maxBytes, backups: backups}
	if err := rf.open(); err != nil {
		return nil, err
	}
	return rf, nil
}

func (rf *RotatingFile) open() error {
	f, err := os.OpenFile(rf.name, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o640)
	if err != nil && isLoop(err) {
		// /dev/stdout and its like are symlinks into /proc, which only
		// root's /dev can hold: follow those, never another.
		if strings.HasPrefix(rf.name, "/dev/") {
			f, err = os.OpenFile(rf.name, os.O_WRONLY|os.O_APPEND, 0)
		}
	}
	if err != nil {
		return fmt.Errorf("logfile %s: %w", rf.name, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("logfile %s: %w", rf.name, err)
	}
	rf.f, rf.size, rf.regular = f, st.Size(), st.Mode().IsRegular()
	return nil
}

func isLoop(err error) bool {
	var errno syscall.Errno
	return errors.As(err, &errno) && errno == unix.ELOOP
}

// Write appends p, rotating first when p would take the file past MaxBytes.
func (rf *RotatingFile) Write(p []byte) (int, error) {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if rf.regular && rf.maxBytes > 0 && rf.size > 0 && rf.size+int64(len(p)) > rf.maxBytes {
		if err := rf.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := rf.f.Write(p)
	rf.size += int64(n)
	return n, err
}

func (rf *RotatingFile) rotate() error {
	rf.f.Close()
	if rf.backups > 0 {
		for i := rf.backups - 1; i >= 1; i-- {
			_ = os.Rename(rf.name+"."+strconv.Itoa(i), rf.name+"."+strconv.Itoa(i+1))
		}
		_ = os.Rename(rf.name, rf.name+".1")
	} else {
		_ = os.Truncate(rf.name, 0)
	}
	return rf.open()
}

// Reopen closes the file and opens its name again, for a rotation done
// by another program (supervisord's SIGUSR2).
func (rf *RotatingFile) Reopen() error {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	rf.f.Close()
	return rf.open()
}

// Close closes the file.
func (rf *RotatingFile) Close() error {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	return rf.f.Close()
}

// activity writes supervisord's line for a monitor event (process.py's
// wording), when the configuration is supervisord's; it reports whether it
// did, so the pump leaves out corral's own line.
func (d *Daemon) activity(e monitor.Event) bool {
	if !d.activityOn() {
		return false
	}
	name := e.Name
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	d.mu.Lock()
	var prog *config.Program
	if pr := d.procs[e.Name]; pr != nil {
		prog = pr.program.cfg
	}
	d.mu.Unlock()
	switch e.Type {
	case monitor.EventStarting:
		Activity(d.log, slog.LevelInfo, fmt.Sprintf("spawned: '%s' with pid %d", name, e.Pid))
	case monitor.EventRunning:
		secs := 0.0
		if prog != nil {
			secs = prog.StartPeriod.Seconds()
		}
		Activity(d.log, slog.LevelInfo, "success: "+name+" entered RUNNING state, process has stayed up for > than "+
			strconv.FormatFloat(math.Floor(secs), 'f', -1, 64)+" seconds (startsecs)")
	case monitor.EventExited:
		x := e.Exit
		why := waitStatus(x)
		expected := x.Signal == 0 && (prog == nil && x.Code == 0 || prog != nil && slices.Contains(exitCodes(prog), x.Code))
		switch e.From {
		case monitor.StateStopping:
			level := slog.LevelWarn
			if expected {
				level = slog.LevelInfo
			}
			Activity(d.log, level, "stopped: "+name+" ("+why+")")
		case monitor.StateStarting:
			Activity(d.log, slog.LevelWarn, "exited: "+name+" ("+why+"; not expected)")
		default:
			if expected {
				Activity(d.log, slog.LevelInfo, "exited: "+name+" ("+why+"; expected)")
			} else {
				Activity(d.log, slog.LevelWarn, "exited: "+name+" ("+why+"; not expected)")
			}
		}
	case monitor.EventBackoff:
		if e.Err != "" {
			Activity(d.log, slog.LevelInfo, "spawnerr: "+e.Err)
		}
	case monitor.EventFatal:
		Activity(d.log, slog.LevelInfo, "gave up: "+name+" entered FATAL state, too many start retries too quickly")
	case monitor.EventStopping:
		if e.Pid != 0 && prog != nil {
			Activity(d.log, slog.LevelDebug, fmt.Sprintf("killing %s (pid %d) with signal %s", name, e.Pid, unix.SignalName(prog.StopSignal)))
		}
	case monitor.EventOrphanReaped:
		Activity(d.log, slog.LevelInfo, fmt.Sprintf("reaped unknown pid %d (%s)", e.Pid, waitStatus(e.Exit)))
	default:
		return false
	}
	return true
}

// activityOn reports whether the configuration is supervisord's, whose
// log is its activity log.
// A configuration keeps its format across reloads, so New decides it once:
// the pump asks for every event and must not take d.mu for it.
func (d *Daemon) activityOn() bool { return d.supervisordLog }

// outputTap returns, for a supervisord configuration logged at debug level
// or below, what copies a process's output into the activity log as
// supervisord does ("'web' stdout output:" and the bytes, invalid UTF-8
// replaced); nil otherwise. Caller holds d.mu (it reads d.cfg).
func (d *Daemon) outputTap(proc, stream string) func([]byte) {
	if d.cfg.Daemon.Activity == nil || !d.log.Enabled(context.Background(), slog.LevelDebug) {
		return nil
	}
	name := proc
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	prefix := "'" + name + "' " + stream + " output:\n"
	return func(b []byte) {
		text := string(b)
		if !utf8.Valid(b) {
			text = "Undecodable: " + pyBytesRepr(b)
		}
		Activity(d.log, slog.LevelDebug, prefix+text)
	}
}

// pyBytesRepr is Python's repr of a bytes object: b'...' (b"..." when it
// holds ' and no "), printable ASCII as is, \\, \t, \n, \r and \xNN for
// the rest.
func pyBytesRepr(b []byte) string {
	q := byte('\'')
	if bytes.IndexByte(b, '\'') >= 0 && bytes.IndexByte(b, '"') < 0 {
		q = '"'
	}
	out := []byte{'b', q}
	for _, c := range b {
		switch {
		case c == q || c == '\\':
			out = append(out, '\\', c)
		case c == '\t':
			out = append(out, '\\', 't')
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\r':
			out = append(out, '\\', 'r')
		case c < 0x20 || c >= 0x7f:
			out = fmt.Appendf(out, "\\x%02x", c)
		default:
			out = append(out, c)
		}
	}
	return string(append(out, q))
}

// exitCodes is the program's expected exit codes (supervisord's default 0).
func exitCodes(p *config.Program) []int {
	if len(p.ExitCodes) == 0 {
		return []int{0}
	}
	return p.ExitCodes
}

// waitStatus is supervisord's decode_wait_status message: "exit status
// N" or "terminated by SIGTERM", with " (core dumped)".
func waitStatus(x *monitor.ExitInfo) string {
	if x == nil {
		return "unknown"
	}
	if x.Signal == 0 {
		return "exit status " + strconv.Itoa(x.Code)
	}
	s := "terminated by " + signame(x.Signal)
	if x.CoreDumped {
		s += " (core dumped)"
	}
	return s
}

// signame is supervisord's signame: "SIGTERM", or "signal 99".
func signame(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return "signal " + strconv.Itoa(int(sig))
}

// ReportSignal logs, in supervisord's words, the signal the daemon
// received: SIGTERM, SIGINT and SIGQUIT end it, SIGHUP reloads, SIGUSR2
// reopens the log.
func (d *Daemon) ReportSignal(sig syscall.Signal) {
	if !d.activityOn() {
		return
	}
	switch sig {
	case syscall.SIGHUP:
		Activity(d.log, slog.LevelWarn, "received SIGHUP indicating restart request")
	case syscall.SIGUSR2:
		Activity(d.log, slog.LevelInfo, "received SIGUSR2 indicating log reopen request")
	case syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT:
		Activity(d.log, slog.LevelWarn, "received "+signame(sig)+" indicating exit request")
	}
}

// ReportUnstopped logs, in supervisord's words, the processes a shutdown
// still waits for ("waiting for web, worker to die"), and returns how many
// there are. The caller calls it when the shutdown begins and every 3
// seconds after, as supervisord does.
func (d *Daemon) ReportUnstopped() int {
	infos, _, err := d.mon.Snapshot()
	if err != nil {
		return 0
	}
	var names []string
	for _, i := range infos {
		switch i.State {
		case monitor.StateStopped, monitor.StateExited, monitor.StateFatal:
			continue
		}
		n := i.Name
		if j := strings.LastIndexByte(n, ':'); j >= 0 {
			n = n[j+1:]
		}
		names = append(names, n)
	}
	if len(names) > 0 && d.activityOn() {
		Activity(d.log, slog.LevelInfo, "waiting for "+strings.Join(names, ", ")+" to die")
	}
	return len(names)
}
