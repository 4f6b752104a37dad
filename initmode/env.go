package initmode

import (
	"os"
	"strings"
)

// savedGOMAXPROCS carries, from `corral init` to corral-init, the
// GOMAXPROCS of the environment init was given ("-" when it had none).
const savedGOMAXPROCS = "CORRAL_INIT_GOMAXPROCS"

// SmallInitEnv returns env to exec corral-init with: GOMAXPROCS=1, so that
// the Go runtime starts with one P and starts no thread for a second one
// before main can lower it (2 threads of the 5 such a start ends with),
// and the GOMAXPROCS env had saved for RestoreEnv, so the child gets env
// as it was.
func SmallInitEnv(env []string) []string {
	saved := "-"
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		switch {
		case strings.HasPrefix(kv, "GOMAXPROCS="):
			saved = strings.TrimPrefix(kv, "GOMAXPROCS=")
		case strings.HasPrefix(kv, savedGOMAXPROCS+"="):
		default:
			out = append(out, kv)
		}
	}
	return append(out, "GOMAXPROCS=1", savedGOMAXPROCS+"="+saved)
}

// RestoreEnv undoes SmallInitEnv in this process's environment, which the
// child inherits. It reports false when the environment did not come from
// SmallInitEnv.
func RestoreEnv() bool {
	saved, ok := os.LookupEnv(savedGOMAXPROCS)
	if !ok {
		return false
	}
	os.Unsetenv(savedGOMAXPROCS)
	if saved == "-" {
		os.Unsetenv("GOMAXPROCS")
	} else {
		os.Setenv("GOMAXPROCS", saved)
	}
	return true
}
