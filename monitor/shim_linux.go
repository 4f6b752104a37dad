package monitor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Go's fork/exec cannot set a child's umask or rlimits between fork and exec,
// and changing them in the monitor itself would affect every goroutine. So a
// process that needs them is started through a shim: the monitor's own binary
// run with a marker argv[0], which applies them and execs the real program.
// The shim runs from this package's init, before the embedding program's main.

const (
	shimArgv0 = "corral-exec-shim"
	shimEnv   = "CORRAL_EXEC_SHIM"
)

func init() {
	if len(os.Args) == 1 && os.Args[0] == helperArgv0 {
		runHelper()
	}
	if len(os.Args) >= 2 && os.Args[0] == shimArgv0 {
		if v, ok := os.LookupEnv(shimEnv); ok {
			runShim(v, os.Args[1], os.Args[2:])
		}
	}
}

// shimArgs rewrites an exec of path/argv into an exec of the shim.
func shimArgs(shim, path string, argv, env []string, s *Spec) (string, []string, []string) {
	var parts []string
	if s.Umask != nil {
		parts = append(parts, "umask="+strconv.FormatUint(uint64(*s.Umask), 8))
	}
	for _, r := range s.Rlimits {
		parts = append(parts, fmt.Sprintf("rlimit=%d:%d:%d", r.Resource, r.Cur, r.Max))
	}
	newArgv := append([]string{shimArgv0, path}, argv...)
	newEnv := append(append(make([]string, 0, len(env)+1), env...), shimEnv+"="+strings.Join(parts, ","))
	return shim, newArgv, newEnv
}

func runShim(spec, path string, argv []string) {
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "corral exec shim: %s: %v\n", path, err)
		os.Exit(127)
	}
	for _, part := range strings.Split(spec, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "umask":
			m, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				fail(fmt.Errorf("bad umask %q", v))
			}
			syscall.Umask(int(m))
		case "rlimit":
			f := strings.Split(v, ":")
			if len(f) != 3 {
				fail(fmt.Errorf("bad rlimit %q", v))
			}
			res, err1 := strconv.Atoi(f[0])
			cur, err2 := strconv.ParseUint(f[1], 10, 64)
			max, err3 := strconv.ParseUint(f[2], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil {
				fail(fmt.Errorf("bad rlimit %q", v))
			}
			if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: cur, Max: max}); err != nil {
				fail(fmt.Errorf("setrlimit %d: %w", res, err))
			}
		}
	}
	env := os.Environ()
	out := env[:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, shimEnv+"=") {
			out = append(out, kv)
		}
	}
	fail(syscall.Exec(path, argv, out))
}
