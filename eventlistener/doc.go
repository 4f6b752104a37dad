// Package eventlistener implements supervisord's event listener protocol
// ([eventlistener:x] pools): the event types and their hierarchy, the
// header line and payload of every event exactly as supervisord 4 writes
// them, each pool's bounded buffer, and the listener states (ACKNOWLEDGED,
// READY, BUSY, UNKNOWN) driven by what a listener writes on its stdout
// ("READY\n", "RESULT n\n" and n bytes).
//
// A Dispatcher runs one goroutine around one epoll instance: it writes
// envelopes to every listener's stdin pipe and reads every listener's
// stdout pipe, and fires the TICK_* events, whatever the number of pools,
// listeners and events. Callers post to it (Notify, Pipes, Started,
// SetRunning, Exited) and never wait for it; it never blocks on a listener
// (the pipes are non-blocking, an envelope the pipe cannot take at once
// waits in memory until epoll says it can).
//
// Semantics, as supervisord's (events.py, dispatchers.py, process.py):
//
//   - An event gets the next global serial when the first pool accepts it,
//     and each pool that accepts it its next pool serial; both start at 0.
//   - A pool accepts an event when one of its subscribed types is the
//     event's type or an ancestor (PROCESS_STATE gets every
//     PROCESS_STATE_*, EVENT everything). Pools created later do not get
//     earlier events.
//   - A full buffer (buffer_size, default 10) discards its oldest event
//     and logs "pool NAME event buffer overflowed, discarding event N".
//   - The oldest buffered event goes to the first listener of the pool
//     that is RUNNING and READY; it is then BUSY until its RESULT.
//     "RESULT 2\nOK" acknowledges it; any other result (FAIL) logs
//     "NAME: event was rejected" and puts the event back at the head of the
//     buffer, as does a listener that exits while BUSY. A listener that
//     breaks the protocol goes UNKNOWN and gets no more events.
//
// Dispatcher.Tap relays a process's output through the same loop for
// PROCESS_LOG_* events and PROCESS_COMMUNICATION_* (capture mode) before it
// reaches the log.
//
// The package knows nothing of processes beyond the names and pids its
// caller gives it, and never spawns anything.
package eventlistener
