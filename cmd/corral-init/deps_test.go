package main

import (
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// corral-init exists to be small: it must not link what only the daemon
// needs. A package on this list would bring its code, its init-time work
// and (for net and os/user's cgo) the C library back into every container.
func TestCorralInitLinksNoDaemonPackages(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/corralhq/corral/cmd/corral-init").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !slices.Contains(deps, "github.com/corralhq/corral/initmode") {
		t.Fatalf("go list -deps gave %d packages, without initmode: %q", len(deps), out)
	}
	for _, banned := range []string{
		"github.com/corralhq/corral/config",
		"github.com/corralhq/corral/daemon",
		"github.com/corralhq/corral/api",
		"github.com/corralhq/corral/logs",
		"github.com/corralhq/corral/store",
		"github.com/corralhq/corral/initmode/programs",
		"github.com/spf13/cobra",
		"github.com/spf13/pflag",
		"github.com/pelletier/go-toml/v2",
		"github.com/prometheus/client_golang/prometheus",
		"go.etcd.io/bbolt",
		"net",
		"net/http",
		"crypto/tls",
		// Command mode has its own loop (initmode/command.go): the
		// monitor, os/exec and os/user (cgo) stay out.
		"github.com/corralhq/corral/monitor",
		"os/exec",
		"os/user",
		"runtime/cgo",
	} {
		if slices.Contains(deps, banned) {
			t.Errorf("corral-init links %s", banned)
		}
	}
	// os/signal costs three threads; package sigqueue replaces it where
	// it has a handler of its own.
	if runtime.GOARCH == "amd64" && slices.Contains(deps, "os/signal") {
		t.Error("corral-init links os/signal on amd64")
	}
}
