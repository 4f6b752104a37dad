package daemon

import "log/slog"

// Logger returns the daemon's logger (Options.Logger, or slog.Default()),
// for the layers above it, such as the API, to log in the same place.
func (d *Daemon) Logger() *slog.Logger { return d.log }
