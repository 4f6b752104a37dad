package daemon

import (
	"testing"
	"time"

	"github.com/corralhq/corral/config"
)

// TestSpecBackoffInitialZeroRestartsAtOnce: backoff initial = "0s" in the
// configuration becomes the monitor's Immediate backoff (not its 100 ms
// default for a zero Initial); any other value stays a delay.
func TestSpecBackoffInitialZeroRestartsAtOnce(t *testing.T) {
	for _, tt := range []struct {
		backoff   string
		immediate bool
		initial   time.Duration
	}{
		{`backoff = { initial = "0s" }`, true, 0},
		{`backoff = { initial = "250ms" }`, false, 250 * time.Millisecond},
		{``, false, 100 * time.Millisecond},
	} {
		cfg, err := config.ParseTOML("corral.toml", []byte("[program.p]\ncommand = \"true\"\n"+tt.backoff+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := Spec(cfg.Programs[0].Processes()[0], "p", nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.Backoff.Immediate != tt.immediate || s.Backoff.Initial != tt.initial {
			t.Errorf("%q: monitor backoff %+v, want Immediate %v, Initial %v", tt.backoff, s.Backoff, tt.immediate, tt.initial)
		}
	}
}
