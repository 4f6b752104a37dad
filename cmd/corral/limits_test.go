package main

import (
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/config"
)

// lowerSoftLimit sets this process's soft limit of res to soft for the
// test, and restores the limit after it.
func lowerSoftLimit(t *testing.T, res int, soft uint64) syscall.Rlimit {
	t.Helper()
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(res, &orig); err != nil {
		t.Fatal(err)
	}
	if orig.Max != ^uint64(0) && orig.Max <= soft {
		t.Fatalf("hard limit %d leaves no room above %d", orig.Max, soft)
	}
	if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: soft, Max: orig.Max}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := syscall.Setrlimit(res, &orig); err != nil {
			t.Errorf("restore limit %d: %v", res, err)
		}
	})
	return orig
}

// minfds and minprocs raise a lower soft limit, supervisord's way (raising
// the hard limit too needs CAP_SYS_RESOURCE, which a container's root may
// lack; above the hard limit a failure refuses the start, see
// TestMinFDsAboveTheSystemMaximumRefusesToStart).
func TestRaiseLimitsToMinFDsAndMinProcs(t *testing.T) {
	nofile := lowerSoftLimit(t, syscall.RLIMIT_NOFILE, 600)
	nproc := lowerSoftLimit(t, unix.RLIMIT_NPROC, 300)
	cfg := &config.Config{File: "corral.toml", Daemon: config.Daemon{MinFDs: 700, MinProcs: 400}}
	var log strings.Builder
	if err := raiseLimits(cfg, slog.New(slog.NewTextHandler(&log, nil))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		res  int
		want syscall.Rlimit
	}{
		{syscall.RLIMIT_NOFILE, syscall.Rlimit{Cur: 700, Max: nofile.Max}},
		{unix.RLIMIT_NPROC, syscall.Rlimit{Cur: 400, Max: nproc.Max}},
	} {
		var got syscall.Rlimit
		if err := syscall.Getrlimit(c.res, &got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("limit %d: %+v, want %+v", c.res, got, c.want)
		}
	}
	for _, want := range []string{"increased RLIMIT_NOFILE limit to 700", "increased RLIMIT_NPROC limit to 400"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log does not say %q:\n%s", want, log.String())
		}
	}

	// A soft limit already above the minimum is left alone.
	cfg.Daemon = config.Daemon{MinFDs: 650}
	if err := raiseLimits(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	var got syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &got); err != nil || got.Cur != 700 {
		t.Errorf("soft limit %d (%v), want 700 left alone", got.Cur, err)
	}
}
