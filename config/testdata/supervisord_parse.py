"""Print, as JSON, how supervisord itself reads a configuration file.

Usage: supervisord_parse.py FILE. Needs Debian's python3-supervisor. The
config tests compare corral's reading of FILE with this output.
"""
import json
import shlex
import sys

from supervisor.options import ServerOptions

o = ServerOptions()
o.configfile = sys.argv[1]
o.process_config(do_usage=False)
sd = o.configroot.supervisord
out = {"programs": {}, "servers": [], "warnings": o.parse_warnings}
for g in sd.process_group_configs:
    for p in g.process_configs:
        out["programs"][p.name] = {
            "group": g.name,
            "argv": shlex.split(p.command),
            "autostart": p.autostart,
            "priority": p.priority,
            "directory": p.directory,
            "startsecs": p.startsecs,
            "redirect_stderr": p.redirect_stderr,
            "stderr_logfile": p.stderr_logfile,
            "environment": p.environment,
        }
for s in sd.server_configs:
    out["servers"].append({k: s.get(k) for k in ("family", "file", "chmod", "chown", "port")})
json.dump(out, sys.stdout, default=str, sort_keys=True)
