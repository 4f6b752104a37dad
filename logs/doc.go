// Package logs captures the stdout and stderr of supervised programs into
// size-rotated log files, the way supervisord does, at a fixed cost in
// goroutines and threads whatever the number of programs.
//
// # Model
//
// A [Capture] owns the read ends of every program's output pipes. One
// goroutine, blocked in epoll_wait(2), moves the bytes of every pipe into its
// log file with splice(2) (or, where splice does not apply, through one
// buffer shared by all pipes). Capturing the output of 1 program or 10,000
// costs the same goroutine and the same OS thread.
//
// A [Stream] is one log file: a path, a size at which it rotates
// ([StreamConfig.MaxBytes]) and a number of backups ([StreamConfig.Backups]).
// Rotation renames name.log.(N-1) to name.log.N, ..., name.log to
// name.log.1 and starts a new name.log, so the backups read oldest to newest
// followed by name.log give the exact byte stream, split at exactly MaxBytes.
// A Stream with an empty path drains its pipes and discards the bytes.
// A Stream with a [StreamConfig.Tap] hands each chunk it reads to the tap
// before storing it, through the shared buffer rather than splice.
//
// [Stream.NewPipe] makes one pipe: the caller hands the write end to the
// child (as its stdout, and also as its stderr to redirect stderr into
// stdout), closes it in the parent right after the spawn, and waits on the
// returned done channel, which is closed once the pipe reached end of file
// and every byte written into it is in the log file. A process's exit event
// is final when its pipes are done. Each restart makes new pipes; several
// pipes may feed one Stream.
//
// # File descriptors
//
// A Capture holds one descriptor per pipe (its read end, until the pipe is
// done), at most [Options.MaxOpenFiles] log files (default 256; while it
// opens, reopens or rotates a file, one more and two directory descriptors
// for the path's resolution), and two of its own (epoll and an eventfd). When a stream has bytes to write and its
// file is closed, the capture goroutine closes the file written least
// recently and reopens this one at the end it tracks; rotating a closed file
// only renames it, and its next write creates the new one. A stream whose
// path is not a regular file (a FIFO, /dev/stdout) keeps it open for its
// whole life, outside that bound: closing a FIFO's write end would tell its
// reader the output ended. So 10,000 programs with stderr redirected into
// stdout need about 10,000 + MaxOpenFiles descriptors (20,000 +
// MaxOpenFiles with a separate stderr pipe each); RLIMIT_NOFILE must allow
// that, and
// [Stream.NewPipe] says so in its error when it does not. A file that cannot
// be reopened is a file that cannot be written (see below).
//
// Bytes are addressed by their position in the stream: a monotonic count that
// starts at 0 with the oldest backup found when the Stream was opened and
// spans rotations. [Stream.ReadAt], [Stream.Tail] and [Follower] read the
// files by position, never through the capture goroutine; a follower that
// falls so far behind that its bytes were rotated away receives a [GapError]
// giving the number of bytes it missed.
//
// # Files other users control
//
// A log file often lives in a directory the program's user can write, while
// the capture runs as root. Every open, reopen, rotation and clear resolves
// the path one directory at a time and never follows a symlink found in a
// directory writable by anyone but root (or the capture's own user): such a
// path is refused with an error naming it (by [Capture.OpenStream]), or its
// bytes are dropped, counted and reported like a failed write (on a
// reopen). Rotation renames and removes names relative to the directory's
// descriptor, and creates its new file only after removing whatever sat at
// its temporary name. Symlinks in directories only root can write, such as
// /dev/stdout, are followed.
//
// Files the capture creates have mode [FileMode] (0640, less what the umask
// removes) and, with [Options.Group], that group, so that the programs'
// output is not readable by every local user. /dev/stdout, /dev/stderr,
// /dev/fd/N and /proc paths are opened for appending and never rotated,
// closed or read back, even when they lead to a regular file shared with
// others (the daemon's own log).
//
// Several pipes of one stream never mix their bytes within a write of at
// most PIPE_BUF (4096) bytes: each time the capture reads a pipe it takes
// all the pipe holds (a pipe holds 64 KiB unless its writer enlarges it).
// So programs that write whole lines of at most 4096 bytes can share one
// stream without their lines being cut into each other.
//
// # What it must never do
//
// The capture goroutine never blocks on a reader or a follower, and a
// program is never blocked forever by the disk: when a file cannot be
// written (disk full, I/O error) the pipe is still drained, the bytes are
// counted as dropped ([StreamStats.Dropped]), reported through
// [Options.OnDrop], and writing is tried again after [Options.RetryInterval].
// The package never starts a goroutine or a thread per program, per pipe or
// per follower, never reaps processes, and never drops a byte without
// counting it.
package logs
