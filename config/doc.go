// Package config reads corral's configuration: the native TOML schema and
// supervisord's INI format. Both produce the same [Config] value, so the
// daemon treats a converted supervisord.conf exactly like a corral.toml.
//
// A [Program] is one configured entry ([program.web] in TOML,
// [program:web] in INI). It becomes NumProcs processes when it runs; see
// [Program.Processes] for the names and the per-process expansion of
// %(process_num)d.
//
// Every error this package returns for bad input is an [*Error] naming the
// file, the line, the section and the key at fault, for example:
//
//	corral.toml:12: program "web": key "stop_signal": unknown signal "TERMX"
//
// Settings that corral reads but does not act on (most supervisord keys of
// event listeners, syslog or capture mode) are never dropped silently: each
// one adds a line to [Config.Warnings].
//
// The package only reads and validates. It must never start processes, open
// sockets or create files: the daemon does that with what Load returns.
package config
