package supervisorrpc

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
	"github.com/corralhq/corral/supervisorrpc/xmlrpc"
)

// supervisord's process state codes (and corral's).
const (
	stateStopped  = 0
	stateStarting = 10
	stateRunning  = 20
	stateBackoff  = 30
	stateStopping = 40
	stateExited   = 100
	stateFatal    = 200
)

// exitedTooQuickly is supervisord's spawnerr for a process that died before
// startsecs.
const exitedTooQuickly = "Exited too quickly (process log may have details)"

// isRunning is supervisord's RUNNING_STATES.
func isRunning(code int) bool {
	return code == stateRunning || code == stateBackoff || code == stateStarting
}

// isSignallable is supervisord's SIGNALLABLE_STATES.
func isSignallable(code int) bool {
	return code == stateRunning || code == stateStarting || code == stateStopping
}

// proc is one process as supervisord names it.
type proc struct {
	daemon.ProcessStatus
	group, name string // supervisord's group name and process name
	groupPrio   int
}

// procs returns every process, sorted as supervisord's lexical listing:
// by group name, then process name.
func (h *handler) procs() ([]proc, error) {
	sts, err := h.d.Status()
	if err != nil {
		return nil, err
	}
	groupPrio := map[string]int{}
	for _, g := range h.d.Config().Groups {
		groupPrio[g.Name] = g.Priority
	}
	out := make([]proc, 0, len(sts))
	for _, st := range sts {
		p := proc{ProcessStatus: st, group: st.Group, name: strings.TrimPrefix(st.Name, st.Group+":")}
		asSupervisordState(&p)
		p.groupPrio = st.Priority
		if gp, ok := groupPrio[st.Group]; ok {
			p.groupPrio = gp
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b proc) int {
		return cmp.Or(cmp.Compare(a.group, b.group), cmp.Compare(a.name, b.name))
	})
	return out, nil
}

// byPriority sorts processes as supervisord starts them: by group priority,
// then process priority, then name.
func byPriority(ps []proc) {
	slices.SortStableFunc(ps, func(a, b proc) int {
		return cmp.Or(cmp.Compare(a.groupPrio, b.groupPrio), cmp.Compare(a.group, b.group),
			cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.name, b.name))
	})
}

// splitNamespec splits a supervisord namespec: "group:process", "group:*"
// or "group:" (process ""), or "name" (group and process both name).
func splitNamespec(spec string) (group, process string) {
	if g, p, ok := strings.Cut(spec, ":"); ok {
		if p == "*" {
			p = ""
		}
		return g, p
	}
	return spec, spec
}

// namespec is the inverse of splitNamespec for one process.
func namespec(group, process string) string {
	if group == process {
		return process
	}
	return group + ":" + process
}

// lookup resolves a namespec to a group's processes (in lexical order) and,
// when it names one process, that process. An unknown group or process is
// a BAD_NAME fault naming spec.
func (h *handler) lookup(spec string) (group []proc, one *proc, err error) {
	all, err := h.procs()
	if err != nil {
		return nil, nil, err
	}
	g, p := splitNamespec(spec)
	for _, pr := range all {
		if pr.group == g {
			group = append(group, pr)
		}
	}
	if len(group) == 0 {
		return nil, nil, xmlrpc.NewFault(xmlrpc.FaultBadName, spec)
	}
	if p == "" {
		return group, nil, nil
	}
	for i := range group {
		if group[i].name == p {
			return group, &group[i], nil
		}
	}
	return nil, nil, xmlrpc.NewFault(xmlrpc.FaultBadName, spec)
}

// processInfo is supervisord's getProcessInfo struct.
func processInfo(p proc, now time.Time) map[string]any {
	var start, stop int64
	if p.Started != nil {
		start = p.Started.Unix()
	}
	exitstatus := 0
	if x := p.LastExit; x != nil {
		stop = x.Ended.Unix()
		exitstatus = x.Code
		if x.Signal != "" {
			exitstatus = -1 // as supervisord's decode_wait_status
		}
	}
	spawnerr := ""
	if p.StateCode == stateBackoff || p.StateCode == stateFatal {
		spawnerr = spawnError(p.Error)
	}
	info := map[string]any{
		"name":           p.name,
		"group":          p.group,
		"start":          start,
		"stop":           stop,
		"now":            now.Unix(),
		"state":          p.StateCode,
		"statename":      p.State,
		"spawnerr":       spawnerr,
		"exitstatus":     exitstatus,
		"logfile":        p.StdoutLog,
		"stdout_logfile": p.StdoutLog,
		"stderr_logfile": p.StderrLog,
		"pid":            p.Pid,
	}
	info["description"] = readyDescription(p, describe(p.StateCode, p.Pid, start, stop, now.Unix(), spawnerr, p.name, time.Local))
	return info
}

// spawnError turns the monitor's reason for BACKOFF or FATAL into
// supervisord's spawnerr: its text for a start that died too quickly, the
// spawn error otherwise.
func spawnError(reason string) string {
	if reason == "" || strings.HasPrefix(reason, "exited too quickly") {
		return exitedTooQuickly
	}
	return reason
}

// describe is supervisord's process description.
func describe(state, pid int, start, stop, now int64, spawnerr, name string, loc *time.Location) string {
	switch state {
	case stateRunning:
		return fmt.Sprintf("pid %d, uptime %s", pid, formatUptime(now-start))
	case stateFatal, stateBackoff:
		if spawnerr == "" {
			return fmt.Sprintf("unknown error (try \"tail %s\")", name)
		}
		return spawnerr
	case stateStopped, stateExited:
		if start == 0 {
			return "Not started"
		}
		return time.Unix(stop, 0).In(loc).Format("Jan 02 03:04 PM")
	}
	return ""
}

// formatUptime writes seconds as Python's str(timedelta): "0:01:02",
// "1 day, 2:03:04", "3 days, 0:00:00".
func formatUptime(secs int64) string {
	secs = max(secs, 0)
	days, rest := secs/86400, secs%86400
	hms := fmt.Sprintf("%d:%02d:%02d", rest/3600, rest%3600/60, rest%60)
	switch days {
	case 0:
		return hms
	case 1:
		return "1 day, " + hms
	}
	return fmt.Sprintf("%d days, %s", days, hms)
}

// configInfo is supervisord's getAllConfigInfo struct for one process.
func configInfo(cp config.Process, group string, groupPrio int, inuse bool) map[string]any {
	p := cp.Program
	none := func(s string) string {
		if s == "" {
			return "none"
		}
		return s
	}
	logfile := func(ls config.LogSpec) string {
		switch ls.File {
		case "":
			return "none"
		case config.LogAuto:
			return "auto"
		}
		return ls.File
	}
	exitcodes := make([]any, len(p.ExitCodes))
	for i, c := range p.ExitCodes {
		exitcodes[i] = c
	}
	stderr := logfile(p.Stderr)
	if p.Stderr.Redirect {
		stderr = "none"
	}
	return map[string]any{
		"autostart":               p.Autostart,
		"directory":               none(p.Directory),
		"uid":                     none(p.User),
		"command":                 strings.Join(p.Command, " "),
		"exitcodes":               exitcodes,
		"group":                   group,
		"group_prio":              groupPrio,
		"inuse":                   inuse,
		"killasgroup":             p.KillAsGroup,
		"name":                    cp.Name,
		"process_prio":            p.Priority,
		"redirect_stderr":         p.Stderr.Redirect,
		"startretries":            p.StartRetries,
		"startsecs":               int(p.StartPeriod / time.Second),
		"stdout_capture_maxbytes": 0,
		"stdout_events_enabled":   false,
		"stdout_logfile":          logfile(p.Stdout),
		"stdout_logfile_backups":  p.Stdout.Backups,
		"stdout_logfile_maxbytes": p.Stdout.MaxBytes,
		"stdout_syslog":           false,
		"stopsignal":              int(p.StopSignal),
		"stopwaitsecs":            int(p.StopTimeout / time.Second),
		"stderr_capture_maxbytes": 0,
		"stderr_events_enabled":   false,
		"stderr_logfile":          stderr,
		"stderr_logfile_backups":  p.Stderr.Backups,
		"stderr_logfile_maxbytes": p.Stderr.MaxBytes,
		"stderr_syslog":           false,
		"serverurl":               "auto",
	}
}

// result is supervisord's per-process result struct of group methods.
func result(p proc, err error) map[string]any {
	code, desc := xmlrpc.FaultSuccess, "OK"
	if err != nil {
		f := asFault(err)
		code, desc = f.Code, f.String
	}
	return map[string]any{"name": p.name, "group": p.group, "status": code, "description": desc}
}
