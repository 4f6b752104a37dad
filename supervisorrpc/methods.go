package supervisorrpc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"syscall"
	"time"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
	"github.com/corralhq/corral/supervisorrpc/xmlrpc"
)

// apiVersion is supervisord's RPC API version, which supervisorctl checks.
const apiVersion = "3.0"

// method is one entry of the method table.
type method struct {
	sig  []string // XML-RPC return type, then parameter types
	help string
	fn   func(c *call, params []any) (any, error)
}

// call is one request: the handler and the request's context.
type call struct {
	*handler
	ctx context.Context
}

// table is the method table: the only names the endpoint resolves.
var table map[string]method

func init() {
	table = map[string]method{
		"supervisor.getAPIVersion":        {[]string{"string"}, "Return the version of the RPC API used by the daemon.", (*call).getAPIVersion},
		"supervisor.getVersion":           {[]string{"string"}, "Alias of getAPIVersion.", (*call).getAPIVersion},
		"supervisor.getSupervisorVersion": {[]string{"string"}, "Return the version of corral.", (*call).getSupervisorVersion},
		"supervisor.getIdentification":    {[]string{"string"}, "Return the daemon's identifying string.", (*call).getIdentification},
		"supervisor.getState":             {[]string{"struct"}, "Return the daemon's state as {statecode, statename}.", (*call).getState},
		"supervisor.getPID":               {[]string{"int"}, "Return the daemon's pid.", (*call).getPID},
		"supervisor.readLog":              {[]string{"string", "int", "int"}, "Read length bytes of the daemon's log from offset (negative: from the end).", (*call).readLog},
		"supervisor.readMainLog":          {[]string{"string", "int", "int"}, "Alias of readLog.", (*call).readLog},
		"supervisor.clearLog":             {[]string{"boolean"}, "Empty the daemon's log file.", (*call).clearLog},
		"supervisor.shutdown":             {[]string{"boolean"}, "Stop every process and shut the daemon down.", (*call).shutdown},
		"supervisor.restart":              {[]string{"boolean"}, "Re-read the configuration and restart every process.", (*call).restart},
		"supervisor.reloadConfig":         {[]string{"array"}, "Re-read the configuration file and return [[added, changed, removed]] group names, without applying it.", (*call).reloadConfig},
		"supervisor.addProcessGroup":      {[]string{"boolean", "string"}, "Add a group from the configuration read last (and start its autostart processes).", (*call).addProcessGroup},
		"supervisor.removeProcessGroup":   {[]string{"boolean", "string"}, "Remove a group whose processes are all stopped.", (*call).removeProcessGroup},
		"supervisor.getAllConfigInfo":     {[]string{"array"}, "Return the configuration of every process, running or not.", (*call).getAllConfigInfo},
		"supervisor.startProcess":         {[]string{"boolean", "string", "boolean"}, "Start a process (name, group:name or group:*); with wait, return once it is RUNNING.", (*call).startProcess},
		"supervisor.startProcessGroup":    {[]string{"array", "string", "boolean"}, "Start the processes of a group that are not running.", (*call).startProcessGroup},
		"supervisor.startAllProcesses":    {[]string{"array", "boolean"}, "Start every process that is not running, in priority order.", (*call).startAllProcesses},
		"supervisor.stopProcess":          {[]string{"boolean", "string", "boolean"}, "Stop a process; with wait, return once it is stopped.", (*call).stopProcess},
		"supervisor.stopProcessGroup":     {[]string{"array", "string", "boolean"}, "Stop the running processes of a group.", (*call).stopProcessGroup},
		"supervisor.stopAllProcesses":     {[]string{"array", "boolean"}, "Stop every running process, in reverse priority order.", (*call).stopAllProcesses},
		"supervisor.signalProcess":        {[]string{"boolean", "string", "string"}, "Send a signal (name such as HUP, or number) to a process.", (*call).signalProcess},
		"supervisor.signalProcessGroup":   {[]string{"array", "string", "string"}, "Send a signal to the processes of a group.", (*call).signalProcessGroup},
		"supervisor.signalAllProcesses":   {[]string{"array", "string"}, "Send a signal to every process.", (*call).signalAllProcesses},
		"supervisor.getProcessInfo":       {[]string{"struct", "string"}, "Return the state of one process.", (*call).getProcessInfo},
		"supervisor.getAllProcessInfo":    {[]string{"array"}, "Return the state of every process.", (*call).getAllProcessInfo},
		"supervisor.readProcessStdoutLog": {[]string{"string", "string", "int", "int"}, "Read length bytes of a process's stdout log from offset (negative: from the end).", (*call).readStdout},
		"supervisor.readProcessLog":       {[]string{"string", "string", "int", "int"}, "Alias of readProcessStdoutLog.", (*call).readStdout},
		"supervisor.readProcessStderrLog": {[]string{"string", "string", "int", "int"}, "Read length bytes of a process's stderr log from offset (negative: from the end).", (*call).readStderr},
		"supervisor.tailProcessStdoutLog": {[]string{"array", "string", "int", "int"}, "Return [bytes, offset, overflow]: up to length bytes of a process's stdout log from offset, skipping ahead when more was written.", (*call).tailStdout},
		"supervisor.tailProcessLog":       {[]string{"array", "string", "int", "int"}, "Alias of tailProcessStdoutLog.", (*call).tailStdout},
		"supervisor.tailProcessStderrLog": {[]string{"array", "string", "int", "int"}, "Return [bytes, offset, overflow] of a process's stderr log.", (*call).tailStderr},
		"supervisor.clearProcessLogs":     {[]string{"boolean", "string"}, "Empty a process's stdout and stderr logs.", (*call).clearProcessLogs},
		"supervisor.clearProcessLog":      {[]string{"boolean", "string"}, "Alias of clearProcessLogs.", (*call).clearProcessLogs},
		"supervisor.clearAllProcessLogs":  {[]string{"array"}, "Empty the logs of every process.", (*call).clearAllProcessLogs},
		"supervisor.sendProcessStdin":     {[]string{"boolean", "string", "string"}, "Write chars to a process's stdin pipe (NOT_RUNNING when stopped, NO_FILE when the pipe is closed or stdin = \"null\", FAILED when the pipe is full).", (*call).sendProcessStdin},
		"supervisor.sendRemoteCommEvent":  {[]string{"boolean", "string", "string"}, "Send a REMOTE_COMMUNICATION event of type with data to the event listeners subscribed to it.", (*call).sendRemoteCommEvent},
		"system.listMethods":              {[]string{"array"}, "Return the names of the methods of this endpoint.", (*call).listMethods},
		"system.methodHelp":               {[]string{"string", "string"}, "Return the documentation of a method.", (*call).methodHelp},
		"system.methodSignature":          {[]string{"array", "string"}, "Return a method's signature: [return type, parameter types...].", (*call).methodSignature},
		"system.multicall":                {[]string{"array", "array"}, "Run an array of {methodName, params} calls in order.", nil},
	}
}

// methods binds the table to one request's context.
func (h *handler) methods(ctx context.Context) xmlrpc.Methods {
	c := &call{handler: h, ctx: ctx}
	m := make(xmlrpc.Methods, len(table))
	for name, e := range table {
		if e.fn == nil {
			continue
		}
		fn, name := e.fn, name
		m[name] = func(params []any) (v any, err error) {
			defer h.recoverCall(name, &err)
			return fn(c, params)
		}
	}
	m["system.multicall"] = m.Multicall
	return m
}

// recoverCall, deferred by a method, turns its panic into a FAILED fault
// and one line in the daemon's log (the stack at debug level): a request
// never crashes the daemon nor fills its log.
func (h *handler) recoverCall(method string, err *error) {
	r := recover()
	if r == nil {
		return
	}
	pe := &xmlrpc.PanicError{Method: method, Value: r, Stack: debug.Stack()}
	h.log.Error("supervisorrpc: method panicked", "method", method, "err", pe.Error())
	h.log.Debug("supervisorrpc: panic stack", "method", method, "stack", string(pe.Stack))
	*err = pe
}

// live fails with SHUTDOWN_STATE once the daemon was asked to shut down,
// as every supervisord method does.
func (c *call) live() error {
	select {
	case <-c.d.Quit():
		return xmlrpc.NewFault(xmlrpc.FaultShutdownState, "")
	default:
		return nil
	}
}

// asFault is err as a fault (FAILED for a plain error).
func asFault(err error) *xmlrpc.Fault {
	var f *xmlrpc.Fault
	if errors.As(err, &f) {
		return f
	}
	return xmlrpc.NewFault(xmlrpc.FaultFailed, err.Error())
}

func (c *call) getAPIVersion(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 0, 0); err != nil {
		return nil, err
	}
	return apiVersion, c.live()
}

func (c *call) getSupervisorVersion(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 0, 0); err != nil {
		return nil, err
	}
	return daemon.Version, c.live()
}

func (c *call) getIdentification(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 0, 0); err != nil {
		return nil, err
	}
	return c.opts.Identification, c.live()
}

func (c *call) getState(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 0, 0); err != nil {
		return nil, err
	}
	if err := c.live(); err != nil {
		return nil, err
	}
	return map[string]any{"statecode": 1, "statename": "RUNNING"}, nil
}

func (c *call) getPID(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 0, 0); err != nil {
		return nil, err
	}
	return os.Getpid(), c.live()
}

func (c *call) shutdown(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 0, 0); err != nil {
		return nil, err
	}
	if err := c.live(); err != nil {
		return nil, err
	}
	c.d.RequestShutdown()
	return true, nil
}

func (c *call) restart(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 0, 0); err != nil {
		return nil, err
	}
	if err := c.live(); err != nil {
		return nil, err
	}
	if c.opts.Restart != nil {
		go c.opts.Restart()
		return true, nil
	}
	go func() {
		// The client's request is over: this must not end with it.
		ctx := context.Background()
		if _, err := c.d.Reload(ctx); err != nil {
			c.log.Error("supervisorrpc: restart: reload", "err", err)
		}
		if _, err := c.d.RestartProcesses(ctx, []string{"all"}, false); err != nil && !errors.Is(err, daemon.ErrNoSuchProcess) {
			c.log.Error("supervisorrpc: restart", "err", err)
		}
	}()
	return true, nil
}

// reloadConfig reads the configuration file again and reports, by group,
// what differs from what runs. Like supervisord it applies nothing: the
// configuration read is what addProcessGroup and getAllConfigInfo use.
func (c *call) reloadConfig(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 0, 0); err != nil {
		return nil, err
	}
	if err := c.live(); err != nil {
		return nil, err
	}
	df, cfg, err := c.d.Reread()
	if err != nil {
		return nil, xmlrpc.NewFault(xmlrpc.FaultCantReread, err.Error())
	}
	c.mu.Lock()
	c.pending = cfg
	c.mu.Unlock()
	added, changed, removed := groupDiff(df, c.d.ProgramConfig(), cfg.Programs)
	return []any{[]any{added, changed, removed}}, nil
}

// groupDiff turns a diff by program into supervisord's diff by group: a
// group touched by the diff is added when it did not exist, removed when it
// no longer does, changed otherwise.
func groupDiff(df daemon.Diff, current, next []config.Program) (added, changed, removed []string) {
	groupOf := func(p config.Program) string {
		if p.Group != "" {
			return p.Group
		}
		return p.Name
	}
	cur, nxt := map[string]string{}, map[string]string{} // program -> group
	curGroups, nextGroups := map[string]bool{}, map[string]bool{}
	for _, p := range current {
		cur[p.Name] = groupOf(p)
		curGroups[groupOf(p)] = true
	}
	for _, p := range next {
		nxt[p.Name] = groupOf(p)
		nextGroups[groupOf(p)] = true
	}
	touched := map[string]bool{}
	for _, n := range slices.Concat(df.Added, df.Changed) {
		touched[nxt[n]] = true
	}
	for _, n := range slices.Concat(df.Changed, df.Removed) {
		if g, ok := cur[n]; ok {
			touched[g] = true
		}
	}
	added, changed, removed = []string{}, []string{}, []string{}
	for g := range touched {
		switch {
		case !curGroups[g] && nextGroups[g]:
			added = append(added, g)
		case curGroups[g] && !nextGroups[g]:
			removed = append(removed, g)
		case curGroups[g]:
			changed = append(changed, g)
		}
	}
	sort.Strings(added)
	sort.Strings(changed)
	sort.Strings(removed)
	return added, changed, removed
}

// config returns the configuration read last: by reloadConfig, else the
// daemon's.
func (c *call) config() *config.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending != nil {
		return c.pending
	}
	return c.d.Config()
}

func (c *call) addProcessGroup(params []any) (any, error) {
	name, err := oneString(params)
	if err != nil {
		return nil, err
	}
	if err := c.live(); err != nil {
		return nil, err
	}
	var programs []string
	for _, p := range c.config().Programs {
		if p.Group == name || (p.Group == "" && p.Name == name) {
			programs = append(programs, p.Name)
		}
	}
	if len(programs) == 0 {
		return nil, xmlrpc.NewFault(xmlrpc.FaultBadName, name)
	}
	if _, _, err := c.lookup(name + ":*"); err == nil {
		return nil, xmlrpc.NewFault(xmlrpc.FaultAlreadyAdded, name)
	}
	if _, err := c.d.Reload(c.ctx, programs...); err != nil {
		return nil, xmlrpc.NewFault(xmlrpc.FaultFailed, fmt.Sprintf("%s: %v", name, err))
	}
	return true, nil
}

func (c *call) removeProcessGroup(params []any) (any, error) {
	name, err := oneString(params)
	if err != nil {
		return nil, err
	}
	if err := c.live(); err != nil {
		return nil, err
	}
	group, _, err := c.lookup(name + ":*")
	if err != nil {
		return nil, xmlrpc.NewFault(xmlrpc.FaultBadName, name)
	}
	var programs []string
	for _, p := range group {
		switch p.StateCode {
		case stateStopped, stateExited, stateFatal:
		default:
			return nil, xmlrpc.NewFault(xmlrpc.FaultStillRunning, name)
		}
		if !slices.Contains(programs, p.Program) {
			programs = append(programs, p.Program)
		}
	}
	for _, p := range programs {
		if err := c.d.RemoveProgram(c.ctx, p); err != nil {
			return nil, xmlrpc.NewFault(xmlrpc.FaultFailed, fmt.Sprintf("%s: %v", name, err))
		}
	}
	return true, nil
}

func (c *call) getAllConfigInfo(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 0, 0); err != nil {
		return nil, err
	}
	if err := c.live(); err != nil {
		return nil, err
	}
	cfg := c.config()
	all, err := c.procs()
	if err != nil {
		return nil, err
	}
	inuse := map[string]bool{}
	for _, p := range all {
		inuse[p.group] = true
	}
	groupPrio := map[string]int{}
	for _, g := range cfg.Groups {
		groupPrio[g.Name] = g.Priority
	}
	var out []map[string]any
	add := func(p config.Program) {
		g := p.Group
		if g == "" {
			g = p.Name
		}
		prio, ok := groupPrio[g]
		if !ok {
			prio = p.Priority
		}
		for _, cp := range p.Processes() {
			out = append(out, configInfo(cp, g, prio, inuse[g]))
		}
	}
	seen := map[string]bool{}
	for _, p := range cfg.Programs {
		seen[p.Name] = true
		add(p)
	}
	for _, p := range c.d.ProgramConfig() {
		if !seen[p.Name] { // added at run time, not in the file
			add(p)
		}
	}
	slices.SortStableFunc(out, func(a, b map[string]any) int {
		return compareStrings(a["name"].(string), b["name"].(string))
	})
	res := make([]any, len(out))
	for i, m := range out {
		res[i] = m
	}
	return res, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// nameAndWait reads the (name, wait=true) parameters of start and stop.
func nameAndWait(params []any) (string, bool, error) {
	if err := xmlrpc.Arity(params, 1, 2); err != nil {
		return "", false, err
	}
	name, err := xmlrpc.Param[string](params, 0)
	if err != nil {
		return "", false, err
	}
	wait, err := xmlrpc.OptParam(params, 1, true)
	return name, wait, err
}

func oneString(params []any) (string, error) {
	if err := xmlrpc.Arity(params, 1, 1); err != nil {
		return "", err
	}
	return xmlrpc.Param[string](params, 0)
}

// target is the daemon's name for a process, unambiguous even when a
// process is named like its group.
func target(p proc) string { return p.group + ":" + p.name }

// resultFault turns a daemon result into supervisord's fault for spec.
func resultFault(r daemon.Result, spec string) error {
	switch r.Code {
	case "":
		if r.Error == "" {
			return nil
		}
	case "not_running":
		return xmlrpc.NewFault(xmlrpc.FaultNotRunning, spec)
	case "already_started":
		return xmlrpc.NewFault(xmlrpc.FaultAlreadyStarted, spec)
	case "spawn_error":
		return xmlrpc.NewFault(xmlrpc.FaultSpawnError, spec)
	case "abnormal_termination":
		return xmlrpc.NewFault(xmlrpc.FaultAbnormalTermination, spec)
	}
	return xmlrpc.NewFault(xmlrpc.FaultFailed, spec+": "+r.Error)
}

// act runs a daemon action on ps and returns one supervisord result struct
// per process, in the order of ps.
func act(ps []proc, do func(targets []string) ([]daemon.Result, error)) []any {
	out := make([]any, 0, len(ps))
	if len(ps) == 0 {
		return out
	}
	targets := make([]string, len(ps))
	for i, p := range ps {
		targets[i] = target(p)
	}
	res, err := do(targets)
	byName := map[string]daemon.Result{}
	for _, r := range res {
		byName[r.Name] = r
	}
	for _, p := range ps {
		r, ok := byName[p.Name]
		var e error
		switch {
		case ok:
			e = resultFault(r, namespec(p.group, p.name))
		case err != nil:
			e = xmlrpc.NewFault(xmlrpc.FaultFailed, fmt.Sprintf("%s: %v", namespec(p.group, p.name), err))
		}
		out = append(out, result(p, e))
	}
	return out
}

func (c *call) startProcess(params []any) (any, error) {
	return c.oneOrGroup(params, true, c.start, c.d.StartProcesses)
}

// oneOrGroup is startProcess and stopProcess: a group name acts on the
// group; a process that is already in the asked state is a fault
// (ALREADY_STARTED or NOT_RUNNING), as in supervisord.
func (c *call) oneOrGroup(params []any, starting bool,
	group func([]proc, bool) []any,
	act func(context.Context, []string, bool) ([]daemon.Result, error)) (any, error) {
	name, wait, err := nameAndWait(params)
	if err != nil {
		return nil, err
	}
	if err := c.live(); err != nil {
		return nil, err
	}
	ps, one, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	if one == nil {
		return group(ps, wait), nil
	}
	switch running := isRunning(one.StateCode); {
	case starting && running:
		return nil, xmlrpc.NewFault(xmlrpc.FaultAlreadyStarted, name)
	case !starting && !running:
		return nil, xmlrpc.NewFault(xmlrpc.FaultNotRunning, name)
	}
	res, err := act(c.ctx, []string{target(*one)}, wait)
	if len(res) != 1 {
		return nil, xmlrpc.NewFault(xmlrpc.FaultFailed, fmt.Sprintf("%s: %v", name, err))
	}
	if err := resultFault(res[0], name); err != nil {
		return nil, err
	}
	return true, nil
}

// start starts the processes of ps that are not running, in priority
// order, as supervisord's startProcessGroup and startAllProcesses.
func (c *call) start(ps []proc, wait bool) []any {
	byPriority(ps)
	ps = slices.DeleteFunc(ps, func(p proc) bool { return isRunning(p.StateCode) })
	return act(ps, func(t []string) ([]daemon.Result, error) { return c.d.StartProcesses(c.ctx, t, wait) })
}

func (c *call) startProcessGroup(params []any) (any, error) {
	name, wait, err := nameAndWait(params)
	if err != nil {
		return nil, err
	}
	return c.group(name, func(ps []proc) []any { return c.start(ps, wait) })
}

// process finds the one process name denotes; a group name is BAD_NAME, as
// for supervisord's methods on a single process.
func (c *call) process(name string) (*proc, error) {
	if err := c.live(); err != nil {
		return nil, err
	}
	_, one, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	if one == nil {
		return nil, xmlrpc.NewFault(xmlrpc.FaultBadName, name)
	}
	return one, nil
}

// group runs fn on the processes of the group name.
func (c *call) group(name string, fn func([]proc) []any) (any, error) {
	if err := c.live(); err != nil {
		return nil, err
	}
	all, err := c.procs()
	if err != nil {
		return nil, err
	}
	ps := slices.DeleteFunc(all, func(p proc) bool { return p.group != name })
	if len(ps) == 0 {
		return nil, xmlrpc.NewFault(xmlrpc.FaultBadName, name)
	}
	return fn(ps), nil
}

// all runs fn on every process.
func (c *call) all(fn func([]proc) []any) (any, error) {
	if err := c.live(); err != nil {
		return nil, err
	}
	ps, err := c.procs()
	if err != nil {
		return nil, err
	}
	return fn(ps), nil
}

func (c *call) startAllProcesses(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 0, 1); err != nil {
		return nil, err
	}
	wait, err := xmlrpc.OptParam(params, 0, true)
	if err != nil {
		return nil, err
	}
	return c.all(func(ps []proc) []any { return c.start(ps, wait) })
}

func (c *call) stopProcess(params []any) (any, error) {
	return c.oneOrGroup(params, false, c.stop, c.d.StopProcesses)
}

// stop stops the running processes of ps, as supervisord's
// stopProcessGroup and stopAllProcesses.
func (c *call) stop(ps []proc, wait bool) []any {
	byPriority(ps)
	slices.Reverse(ps)
	ps = slices.DeleteFunc(ps, func(p proc) bool { return !isRunning(p.StateCode) })
	return act(ps, func(t []string) ([]daemon.Result, error) { return c.d.StopProcesses(c.ctx, t, wait) })
}

func (c *call) stopProcessGroup(params []any) (any, error) {
	name, wait, err := nameAndWait(params)
	if err != nil {
		return nil, err
	}
	return c.group(name, func(ps []proc) []any { return c.stop(ps, wait) })
}

func (c *call) stopAllProcesses(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 0, 1); err != nil {
		return nil, err
	}
	wait, err := xmlrpc.OptParam(params, 0, true)
	if err != nil {
		return nil, err
	}
	return c.all(func(ps []proc) []any { return c.stop(ps, wait) })
}

// signalParam reads a signal given as a name ("HUP", "SIGHUP") or a number,
// as a string or an int.
func signalParam(params []any, i int) (string, syscall.Signal, error) {
	if n, ok := params[i].(int); ok {
		s := fmt.Sprint(n)
		sig, err := config.ParseSignal(s)
		return s, sig, err
	}
	s, err := xmlrpc.Param[string](params, i)
	if err != nil {
		return "", 0, err
	}
	sig, err := config.ParseSignal(s)
	return s, sig, err
}

// signal signals the signallable processes of ps.
func (c *call) signal(ps []proc, name string, sig syscall.Signal, sigErr error) []any {
	byPriority(ps)
	ps = slices.DeleteFunc(ps, func(p proc) bool { return !isSignallable(p.StateCode) })
	if sigErr != nil {
		out := make([]any, len(ps))
		for i, p := range ps {
			out[i] = result(p, xmlrpc.NewFault(xmlrpc.FaultBadSignal, name))
		}
		return out
	}
	return act(ps, func(t []string) ([]daemon.Result, error) { return c.d.SignalProcesses(t, sig) })
}

func (c *call) signalProcess(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 2, 2); err != nil {
		return nil, err
	}
	name, err := xmlrpc.Param[string](params, 0)
	if err != nil {
		return nil, err
	}
	sigName, sig, sigErr := signalParam(params, 1)
	var f *xmlrpc.Fault
	if errors.As(sigErr, &f) {
		return nil, sigErr
	}
	if err := c.live(); err != nil {
		return nil, err
	}
	group, one, err := c.lookup(name)
	if err != nil {
		return nil, err
	}
	if one == nil {
		return c.signal(group, sigName, sig, sigErr), nil
	}
	if sigErr != nil {
		return nil, xmlrpc.NewFault(xmlrpc.FaultBadSignal, sigName)
	}
	if !isSignallable(one.StateCode) {
		return nil, xmlrpc.NewFault(xmlrpc.FaultNotRunning, name)
	}
	res, err := c.d.SignalProcesses([]string{target(*one)}, sig)
	if len(res) != 1 {
		return nil, xmlrpc.NewFault(xmlrpc.FaultFailed, fmt.Sprintf("%s: %v", name, err))
	}
	if res[0].Error != "" {
		return nil, xmlrpc.NewFault(xmlrpc.FaultFailed, res[0].Error)
	}
	return true, nil
}

func (c *call) signalProcessGroup(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 2, 2); err != nil {
		return nil, err
	}
	name, err := xmlrpc.Param[string](params, 0)
	if err != nil {
		return nil, err
	}
	sigName, sig, sigErr := signalParam(params, 1)
	var f *xmlrpc.Fault
	if errors.As(sigErr, &f) {
		return nil, sigErr
	}
	return c.group(name, func(ps []proc) []any { return c.signal(ps, sigName, sig, sigErr) })
}

func (c *call) signalAllProcesses(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 1, 1); err != nil {
		return nil, err
	}
	sigName, sig, sigErr := signalParam(params, 0)
	var f *xmlrpc.Fault
	if errors.As(sigErr, &f) {
		return nil, sigErr
	}
	return c.all(func(ps []proc) []any { return c.signal(ps, sigName, sig, sigErr) })
}

func (c *call) getProcessInfo(params []any) (any, error) {
	name, err := oneString(params)
	if err != nil {
		return nil, err
	}
	one, err := c.process(name)
	if err != nil {
		return nil, err
	}
	return processInfo(*one, time.Now()), nil
}

func (c *call) getAllProcessInfo(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 0, 0); err != nil {
		return nil, err
	}
	if err := c.live(); err != nil {
		return nil, err
	}
	ps, err := c.procs()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]any, len(ps))
	for i, p := range ps {
		out[i] = processInfo(p, now)
	}
	return out, nil
}

func (c *call) clearProcessLogs(params []any) (any, error) {
	name, err := oneString(params)
	if err != nil {
		return nil, err
	}
	one, err := c.process(name)
	if err != nil {
		return nil, err
	}
	if err := c.clearLogs(*one); err != nil {
		return nil, xmlrpc.NewFault(xmlrpc.FaultFailed, name)
	}
	return true, nil
}

func (c *call) clearAllProcessLogs(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 0, 0); err != nil {
		return nil, err
	}
	return c.all(func(ps []proc) []any {
		byPriority(ps)
		out := make([]any, len(ps))
		for i, p := range ps {
			var e error
			if err := c.clearLogs(p); err != nil {
				e = xmlrpc.NewFault(xmlrpc.FaultFailed, namespec(p.group, p.name))
			}
			out[i] = result(p, e)
		}
		return out
	})
}

func (c *call) sendProcessStdin(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 2, 2); err != nil {
		return nil, err
	}
	name, err := xmlrpc.Param[string](params, 0)
	if err != nil {
		return nil, err
	}
	var data []byte
	switch v := params[1].(type) {
	case string:
		data = []byte(v)
	case []byte:
		data = v
	default:
		return nil, xmlrpc.NewFault(xmlrpc.FaultIncorrectParameters, "param 2: want string")
	}
	one, err := c.process(name)
	if err != nil {
		return nil, err
	}
	if one.Pid == 0 || one.StateCode == stateStopping {
		return nil, xmlrpc.NewFault(xmlrpc.FaultNotRunning, name)
	}
	// supervisord answers NO_FILE when a process's stdin is closed (or, in
	// corral, when its program has stdin = "null"). A full pipe is corral's
	// own case (supervisord buffers without bound): FAILED, saying so.
	switch err := c.d.SendStdin(target(*one), data); {
	case err == nil:
		return true, nil
	case errors.Is(err, daemon.ErrNoStdin):
		return nil, xmlrpc.NewFault(xmlrpc.FaultNoFile, name)
	case errors.Is(err, daemon.ErrNoSuchProcess):
		return nil, xmlrpc.NewFault(xmlrpc.FaultBadName, name)
	default:
		return nil, xmlrpc.NewFault(xmlrpc.FaultFailed, err.Error())
	}
}

func (c *call) listMethods(params []any) (any, error) {
	if err := xmlrpc.Arity(params, 0, 0); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func (c *call) methodHelp(params []any) (any, error) {
	name, err := oneString(params)
	if err != nil {
		return nil, err
	}
	m, ok := table[name]
	if !ok {
		return nil, xmlrpc.NewFault(xmlrpc.FaultSignatureUnsupported, "")
	}
	return m.help, nil
}

func (c *call) methodSignature(params []any) (any, error) {
	name, err := oneString(params)
	if err != nil {
		return nil, err
	}
	m, ok := table[name]
	if !ok {
		return nil, xmlrpc.NewFault(xmlrpc.FaultSignatureUnsupported, "")
	}
	return slices.Clone(m.sig), nil
}
