package config

import (
	"errors"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"0", 0, false},
		{"1024", 1024, false},
		{"1KB", 1024, false},
		{"1kb", 1024, false},
		{"50MB", 50 << 20, false},
		{"1GB", 1 << 30, false},
		{" 2 MB ", 2 << 20, false},
		{"10B", 10, false},
		{"3M", 3 << 20, false},
		{"", 0, true},
		{"-1", 0, true},
		{"1.5MB", 0, true},
		{"MB", 0, true},
		{"10XB", 0, true},
		{"99999999999999999TB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"1s", time.Second, false},
		{"100ms", 100 * time.Millisecond, false},
		{"1m30s", 90 * time.Second, false},
		{"10", 10 * time.Second, false},
		{"0.5", 500 * time.Millisecond, false},
		{"0", 0, false},
		{"-1s", 0, true},
		{"-3", 0, true},
		{"10 seconds", 0, true},
		{"", 0, true},
		{"NaN", 0, true},
		{"1e300", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in      string
		want    syscall.Signal
		wantErr bool
	}{
		{"TERM", syscall.SIGTERM, false},
		{"SIGTERM", syscall.SIGTERM, false},
		{"term", syscall.SIGTERM, false},
		{"15", syscall.SIGTERM, false},
		{"HUP", syscall.SIGHUP, false},
		{"KILL", syscall.SIGKILL, false},
		{"USR1", syscall.SIGUSR1, false},
		{"sigint", syscall.SIGINT, false},
		{"64", syscall.Signal(64), false},
		{"TERMX", 0, true},
		{"0", 0, true},
		{"65", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSignal(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if got := SignalName(syscall.SIGTERM); got != "TERM" {
		t.Errorf("SignalName(SIGTERM) = %q, want TERM", got)
	}
	if got := SignalName(syscall.Signal(40)); got != "40" {
		t.Errorf("SignalName(40) = %q, want 40", got)
	}
}

func TestParseBool(t *testing.T) {
	for _, s := range []string{"true", "TRUE", "yes", "on", "1", " True "} {
		if b, err := ParseBool(s); err != nil || !b {
			t.Errorf("ParseBool(%q) = %v, %v; want true", s, b, err)
		}
	}
	for _, s := range []string{"false", "no", "off", "0", "OFF"} {
		if b, err := ParseBool(s); err != nil || b {
			t.Errorf("ParseBool(%q) = %v, %v; want false", s, b, err)
		}
	}
	for _, s := range []string{"", "2", "yep", "truee"} {
		if _, err := ParseBool(s); err == nil {
			t.Errorf("ParseBool(%q) succeeded; want an error", s)
		}
	}
}

func TestParseRestart(t *testing.T) {
	tests := []struct {
		in      string
		want    Restart
		n       int
		wantErr bool
	}{
		{"no", RestartNo, 0, false},
		{"always", RestartAlways, 0, false},
		{"on-failure", RestartOnFailure, 0, false},
		{"on-failure:5", RestartOnFailure, 5, false},
		{"unless-stopped", RestartUnlessStopped, 0, false},
		{"unexpected", RestartUnexpected, 0, false},
		{"ALWAYS", RestartAlways, 0, false},
		{"on-failure:-1", "", 0, true},
		{"on-failure:x", "", 0, true},
		{"sometimes", "", 0, true},
		{"", "", 0, true},
	}
	for _, tt := range tests {
		got, n, err := ParseRestart(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want || n != tt.n {
			t.Errorf("ParseRestart(%q) = %q, %d, %v; want %q, %d, error %v", tt.in, got, n, err, tt.want, tt.n, tt.wantErr)
		}
	}
}

func TestParseUmask(t *testing.T) {
	tests := []struct {
		in      string
		want    uint32
		wantErr bool
	}{
		{"022", 0o22, false},
		{"0o027", 0o27, false},
		{"0", 0, false},
		{"777", 0o777, false},
		{"1000", 0, true},
		{"8", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseUmask(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseUmask(%q) = %o, %v; want %o, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr error
	}{
		{"sleep 10", []string{"sleep", "10"}, nil},
		{"  a   b\tc ", []string{"a", "b", "c"}, nil},
		{`sh -c 'echo hi; exit 1'`, []string{"sh", "-c", "echo hi; exit 1"}, nil},
		{`echo "a \"b\" \$HOME \n"`, []string{"echo", `a "b" \$HOME \n`}, nil},
		{`a\ b c`, []string{"a b", "c"}, nil},
		{`x "" ''`, []string{"x", "", ""}, nil},
		{`pre'fix'"ed"`, []string{"prefixed"}, nil},
		{`echo $HOME *`, []string{"echo", "$HOME", "*"}, nil},
		{"", nil, nil},
		{`echo 'unterminated`, nil, ErrUnterminatedQuote},
		{`echo "unterminated`, nil, ErrUnterminatedQuote},
		{`echo \`, nil, ErrTrailingBackslash},
	}
	for _, tt := range tests {
		got, err := SplitCommand(tt.in)
		if !errors.Is(err, tt.wantErr) || !slices.Equal(got, tt.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseKVPairs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{`A=1,B=2`, []string{"A=1", "B=2"}, false},
		{`KEY="val",KEY2=val2`, []string{"KEY=val", "KEY2=val2"}, false},
		{`A="x, y", B='z'`, []string{"A=x, y", "B=z"}, false},
		{`PATH=/usr/bin:/bin`, []string{"PATH=/usr/bin:/bin"}, false},
		{`A=`, []string{"A="}, false},
		{``, nil, false},
		{`A=1,`, []string{"A=1"}, false},
		{`A`, nil, true},
		{`=1`, nil, true},
		{`A="unterminated`, nil, true},
		{`A="x"y`, nil, true},
	}
	for _, tt := range tests {
		m, err := parseKVPairs(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(envList(m), tt.want) {
			t.Errorf("parseKVPairs(%q) = %q, %v; want %q, error %v", tt.in, envList(m), err, tt.want, tt.wantErr)
		}
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]any{"program_name": "web", "process_num": 3, "ENV_HOME": "/home/x"}
	tests := []struct {
		in      string
		strict  bool
		want    string
		wantErr bool
	}{
		{"%(program_name)s", true, "web", false},
		{"%(process_num)d", true, "3", false},
		{"%(process_num)02d", true, "03", false},
		{"%(process_num)-3d|", true, "3  |", false},
		{"%(program_name)5s", true, "  web", false},
		{"%(process_num)s", true, "3", false},
		{"%(ENV_HOME)s/x", true, "/home/x/x", false},
		{"100%%", true, "100%", false},
		{"date +%s", true, "", true},
		{"%(nope)s", true, "", true},
		{"%(program_name)d", true, "", true},
		{"%(program_name)q", true, "", true},
		{"50%", true, "", true},
		{"date +%s %(program_name)s 100%%", false, "date +%s web 100%%", false},
		{"%(nope)s", false, "%(nope)s", false},
		{"%(program_name)d", false, "%(program_name)d", false},
	}
	for _, tt := range tests {
		e := expander{vars: vars, strict: tt.strict}
		got, err := e.expand(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("expand(%q, strict=%v) = %q, %v; want %q, error %v", tt.in, tt.strict, got, err, tt.want, tt.wantErr)
		}
	}
	keep := expander{vars: map[string]any{"program_name": "w"}, strict: true, keep: map[string]bool{"process_num": true}}
	if got, err := keep.expand("%(program_name)s_%(process_num)02d"); err != nil || got != "w_%(process_num)02d" {
		t.Errorf("deferred expansion = %q, %v; want w_%%(process_num)02d", got, err)
	}
	if _, err := keep.expand("%(process_num)q"); err == nil {
		t.Error("a deferred name with a bad format was accepted")
	}
}
