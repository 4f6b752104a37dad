// Package httpguard is what stands between a listener of the daemon and the
// handlers it serves: one rule for every path on a listener.
//
//   - Authentication: with a username configured, every request on the
//     listener (JSON API, /metrics, XML-RPC, /logtail, and whatever is added
//     later) needs HTTP basic credentials, checked in constant time, before
//     its body is read. A password may be "{SHA}" followed by the hex SHA-1
//     of the password, as in supervisord.
//   - Throttling: each failed attempt is logged (remote client and username,
//     never the password); after [FreeFailures] failures in a row a client's
//     attempts are spaced by a delay doubling up to [MaxDelay], however many
//     it sends at once: each takes the next free slot, and one whose slot
//     is more than MaxDelay away gets 429 without its credentials being
//     checked. A client is a remote IP (an IPv6 /64) on TCP, a peer uid on
//     a unix socket (so another local user's guesses never delay root's
//     CLI). The table of clients is bounded ([MaxClients]) and no goroutine
//     is kept per client: a delay is served by the request's own goroutine,
//     for at most MaxDelay, and requests are bounded by the connection
//     limit.
//   - Slow clients: headers must arrive within [ReadHeaderTimeout], a body
//     within [BodyTimeout]; each write of a response must complete within
//     [WriteTimeout] (a rolling deadline, so streaming responses such as an
//     event stream or a followed log live as long as the client reads); an
//     idle keep-alive connection is closed after [IdleTimeout].
//   - Connections: at most [MaxConns] per listener are served at once; the
//     next ones wait in the kernel's backlog until one closes.
//
// [CheckSocketDir] is the rule for the directory of a unix socket, shared by
// the daemon (before it listens) and the client (before it dials).
//
// The package never reads configuration files and never logs a password.
package httpguard
