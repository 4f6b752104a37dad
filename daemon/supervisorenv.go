package daemon

import (
	"net"

	"github.com/corralhq/corral/config"
)

// processEnv is what a process's environment adds to the daemon's base
// (d.baseEnv, one slice shared by every process; the monitor puts the two
// together at each spawn, see monitor.Spec.ExtraEnv), in this order: for a
// supervisord configuration what supervisord gives every child
// (SUPERVISOR_ENABLED, SUPERVISOR_PROCESS_NAME, SUPERVISOR_GROUP_NAME and
// SUPERVISOR_SERVER_URL, which supervisor.childutils.getRPCInterface and
// the listeners built on it, superlance's memmon, httpok..., read), then
// the program's own environment (own, which wins over both), then the
// process's mark (processMark). Held for the process's life, so exactly
// as long as needed: no copy of the base, no spare capacity.
func (d *Daemon) processEnv(p config.Process, name string, own []string) []string {
	var sup []string
	if d.supervisordLog {
		sup = []string{"SUPERVISOR_ENABLED=1", "SUPERVISOR_PROCESS_NAME=" + p.Name}
		if p.Program.Group != "" {
			sup = append(sup, "SUPERVISOR_GROUP_NAME="+p.Program.Group)
		}
		if d.serverURL != "" {
			sup = append(sup, "SUPERVISOR_SERVER_URL="+d.serverURL)
		}
	}
	mark, marked := d.processMark(name)
	n := len(sup) + len(own)
	if marked {
		n++
	}
	if n == len(own) {
		return own
	}
	env := make([]string, 0, n)
	env = append(append(env, sup...), own...)
	if marked {
		env = append(env, mark)
	}
	return env
}

// serverURL is where a supervisord configuration's XML-RPC interface is,
// as supervisord computes it for its children: the [unix_http_server]
// socket, else the [inet_http_server] address.
func serverURL(cfg *config.Config) string {
	switch {
	case cfg.UnixHTTP != nil && cfg.UnixHTTP.File != "":
		return "unix://" + cfg.UnixHTTP.File
	case cfg.InetHTTP != nil:
		host, port, err := net.SplitHostPort(cfg.InetHTTP.Port)
		if err != nil {
			return "http://" + cfg.InetHTTP.Port
		}
		if host == "" || host == "*" {
			host = "localhost"
		}
		return "http://" + net.JoinHostPort(host, port)
	case cfg.Daemon.Socket != "":
		return "unix://" + cfg.Daemon.Socket
	}
	return ""
}
