package daemon

import (
	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/monitor"
)

// hooks maps a program's configured hooks to the monitor's, which spawns,
// times and reaps them like any process, their output in the program's log.
func hooks(h config.Hooks) (pre, post, stop *monitor.Hook) {
	mk := func(argv []string) *monitor.Hook {
		if len(argv) == 0 {
			return nil
		}
		return &monitor.Hook{Args: argv, Timeout: h.Timeout}
	}
	return mk(h.PreStart), mk(h.PostStop), mk(h.StopCommand)
}
