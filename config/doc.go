// Package config reads corral's configuration: the native TOML schema and
// supervisord's INI format. Both produce the same [Config] value, so the
// daemon treats a converted supervisord.conf exactly like a corral.toml.
//
// A [Program] is one configured entry ([program.web] in TOML,
// [program:web] in INI). It becomes NumProcs processes when it runs; see
// [Program.Processes] for the names and the per-process expansion of
// %(process_num)d.
//
// Program, group and process names may not be empty, ".", "..", "all" or
// "*" (the CLI's and supervisorctl's targets), contain a blank, ':', '/' or
// an unprintable character, or be longer than [MaxNameLen] bytes; the same
// rule applies to programs added through the API ([Program.Validate]).
//
// Every error this package returns for bad input is an [*Error] naming the
// file, the line, the section and the key at fault, for example:
//
//	corral.toml:12: program "web": key "stop_signal": unknown signal "TERMX"
//
// Defaults, where the two formats differ they are shown TOML / INI:
//
//	TOML key            INI key                   default
//	command             command                   (required)
//	process_name        process_name              %(program_name)s; numprocs > 1: %(process_num)d / (required)
//	numprocs            numprocs                  1
//	numprocs_start      numprocs_start            0
//	directory           directory                 inherit
//	environment         environment               none
//	user                user                      inherit
//	umask               umask                     inherit
//	autostart           autostart                 true
//	restart             autorestart               on-failure / unexpected
//	exit_codes          exitcodes                 [0]
//	start_secs          startsecs                 1s
//	start_retries       startretries              3
//	backoff             -                         100ms, doubling, max 1m, reset after 10s (initial 0: at once)
//	fatal_retry         -                         0 (off)
//	stop_signal         stopsignal                TERM
//	stop_timeout        stopwaitsecs              10s
//	stop_as_group       stopasgroup               true / false
//	kill_as_group       killasgroup               true / stopasgroup
//	priority            priority                  999
//	memory_max          memory_max                none (max, or a size: 512M)
//	cpu_max             cpu_max                   none (max, 50%, or "QUOTA PERIOD")
//	pids_max            pids_max                  none (max, or a number)
//	pre_start           pre_start                 none (a command)
//	post_stop           post_stop                 none (a command)
//	stop_command        stop_command              none (a command; sent instead of stop_signal)
//	hook_timeout        hook_timeout              30s
//	stdout.file         stdout_logfile            AUTO
//	stdout.max_bytes    stdout_logfile_maxbytes   50MB
//	stdout.backups      stdout_logfile_backups    10
//	stderr.redirect     redirect_stderr           false
//	stderr.*            stderr_logfile*           as stdout
//	stdin               -                         "null" / "pipe"
//
// stdin = "pipe" gives each process a stdin pipe whose write end the
// daemon keeps open (a third descriptor per process), so a program that
// reads its stdin waits instead of reading end of file, and XML-RPC's
// supervisor.sendProcessStdin and `supervisorctl fg` write to it; every
// process of a supervisord configuration gets one, as under supervisord.
// "null" (TOML's default) gives it /dev/null.
//
// Program log files are created 0640 and the log directory 0750; the
// daemon key log_group ([daemon] in TOML, [supervisord] in INI, a corral
// extension there) gives them a group that may read them. docs/LOGS.md
// says more, including which symlinks the daemon refuses to follow.
//
// INI files are read as supervisord reads them (Python's ConfigParser with
// strict=False): sections of the same name, in one file or across the main
// file and its includes, merge into one; a section keeps the place of its
// first header and a key set again takes the later value. command= is split
// exactly as Python's shlex.split does ([SplitCommand]); TOML's command
// string is split the same way.
//
// In INI files every value may use %(ENV_X)s, %(here)s (the directory of
// the file that sets the key) and %(host_node_name)s, and program values
// also %(program_name)s, %(group_name)s, %(numprocs)d and
// %(process_num)d; a literal % is written %%. TOML files expand the
// program names the same way but leave any other % alone. Relative log,
// socket and state paths are relative to the configuration file's
// directory.
//
// Settings that corral reads but does not act on (most supervisord keys of
// event listeners, syslog or capture mode) are never dropped silently: each
// one adds a line to [Config.Warnings].
//
// Load reads only regular files of at most [MaxFileSize] bytes, the main
// file and every file an [include] glob matches: a named pipe, a device or
// a directory is an error naming it, never a read that blocks or does not
// end.
//
// The package only reads and validates. It must never start processes, open
// sockets or create files: the daemon does that with what Load returns.
package config
