// Package api serves corral's HTTP+JSON API over the daemon: the interface
// the corral CLI (through package client) and other tools use to list,
// start, stop and signal processes, add and remove programs at run time,
// reload the configuration, read and follow logs, and follow events.
//
// Every route is under /v1. Bodies are JSON; an error is a JSON object
// {"error": "..."} with a status that classifies it: 400 bad input, 404 no
// such process or program, 409 already started, not running or already
// exists, 503 shutting down, 500 anything else. Actions on several
// processes answer with one result per process (see ActionResponse).
//
//	GET    /v1/info                              daemon.Info
//	GET    /v1/processes?name=N&name=M           []daemon.ProcessStatus (all without name)
//	GET    /v1/processes/{name}                  Process: status and program configuration
//	POST   /v1/processes/{target}/start          ActionResponse; ?wait=true waits for RUNNING
//	POST   /v1/processes/{target}/stop           ActionResponse; ?wait=true waits for the stop
//	POST   /v1/processes/{target}/restart        ActionResponse
//	POST   /v1/processes/{target}/signal         body {"signal": "HUP"}; ActionResponse
//	POST   /v1/actions/{action}                  body ActionRequest: several targets at once
//	GET    /v1/processes/{name}/logs             log bytes; ?stream=stdout|stderr&tail=N&offset=K&follow=true
//	GET    /v1/tree?name=NAME                    every process of each process (its cgroup), CPU and memory
//	POST   /v1/programs                          body: a TOML program table as JSON; ActionResponse
//	GET    /v1/programs/{name}                   the program's configuration (TOML keys)
//	DELETE /v1/programs/{name}                   removes a program (stopping its processes)
//	POST   /v1/reload                            daemon.Diff
//	GET    /v1/events                            newline-delimited Event objects, until the client goes
//	POST   /v1/shutdown                          asks the daemon to stop (202)
//
// A target is a process name, a program or group name, "GROUP:*", or "all".
//
// What one request can make the daemon do is bounded: a body is at most
// 1 MiB (a program 256 KiB) and nests at most 8 levels; a program body is
// decoded straight into the values of a program table and checked by
// config.ProgramFromTable, the code that checks configuration files; logs
// are streamed from their files (offset=-N reads the last N bytes, as
// supervisord's readLog); a handler's panic is a 500 and one log line.
//
// A log follower or an event stream that an upgrade of the daemon ends
// finishes with the trailer X-Corral-Resume (ResumeTrailer): the log's next
// stream position, to ask the new image for with offset, or the last event's
// sequence number. The client package resumes on it by itself.
//
// The package holds no state of its own and starts no goroutines: each
// request runs on the goroutine net/http gives it, and an event stream or a
// log follower lives exactly as long as its request.
package api
