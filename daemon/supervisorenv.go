package daemon

import (
	"net"
	"slices"

	"github.com/corralhq/corral/config"
)

// processEnv is the base environment of a process, before its program's
// own environment (which wins). For a supervisord configuration it adds
// what supervisord gives every child: SUPERVISOR_ENABLED,
// SUPERVISOR_PROCESS_NAME, SUPERVISOR_GROUP_NAME and
// SUPERVISOR_SERVER_URL, which supervisor.childutils.getRPCInterface and
// the listeners built on it (superlance's memmon, httpok, ...) read.
func (d *Daemon) processEnv(p config.Process) []string {
	if !d.supervisordLog {
		return d.baseEnv
	}
	env := append(slices.Clip(d.baseEnv), "SUPERVISOR_ENABLED=1", "SUPERVISOR_PROCESS_NAME="+p.Name)
	if p.Program.Group != "" {
		env = append(env, "SUPERVISOR_GROUP_NAME="+p.Program.Group)
	}
	if d.serverURL != "" {
		env = append(env, "SUPERVISOR_SERVER_URL="+d.serverURL)
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
