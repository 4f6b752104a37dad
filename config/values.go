package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ParseSize parses a byte size such as "50MB", "1KB", "1GB" or "1024".
// Suffixes are case-insensitive and powers of 1024, as in supervisord
// (KB, MB, GB, TB; a trailing "B" alone means bytes). The result is >= 0.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, suf := range []struct {
		s string
		m int64
	}{{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}} {
		if strings.HasSuffix(t, suf.s) {
			t = strings.TrimSpace(strings.TrimSuffix(t, suf.s))
			mult = suf.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q (want a number of bytes with an optional KB, MB or GB suffix)", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// ParseDuration parses a non-negative duration. It accepts Go's syntax
// ("1s", "100ms", "1m30s") and a bare number of seconds ("10", "0.5"), which
// is how supervisord writes startsecs and stopwaitsecs.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(t, 64); err == nil && !strings.ContainsAny(t, "xXpP_") {
		if f < 0 || math.IsNaN(f) || f*float64(time.Second) > math.MaxInt64 {
			return 0, fmt.Errorf("invalid duration %q (must be >= 0 and not absurdly large)", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want e.g. \"10s\", \"100ms\" or a number of seconds)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q (must be >= 0)", s)
	}
	return d, nil
}

var signalNames = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
	"ILL": syscall.SIGILL, "TRAP": syscall.SIGTRAP, "ABRT": syscall.SIGABRT,
	"IOT": syscall.SIGIOT, "BUS": syscall.SIGBUS, "FPE": syscall.SIGFPE,
	"KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "SEGV": syscall.SIGSEGV,
	"USR2": syscall.SIGUSR2, "PIPE": syscall.SIGPIPE, "ALRM": syscall.SIGALRM,
	"TERM": syscall.SIGTERM, "STKFLT": syscall.SIGSTKFLT, "CHLD": syscall.SIGCHLD,
	"CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP, "TSTP": syscall.SIGTSTP,
	"TTIN": syscall.SIGTTIN, "TTOU": syscall.SIGTTOU, "URG": syscall.SIGURG,
	"XCPU": syscall.SIGXCPU, "XFSZ": syscall.SIGXFSZ, "VTALRM": syscall.SIGVTALRM,
	"PROF": syscall.SIGPROF, "WINCH": syscall.SIGWINCH, "IO": syscall.SIGIO,
	"POLL": syscall.SIGPOLL, "PWR": syscall.SIGPWR, "SYS": syscall.SIGSYS,
}

// ParseSignal parses a signal given by name ("TERM", "SIGTERM", "term") or by
// number ("15"). Numbers must name a signal between 1 and 64.
func ParseSignal(s string) (syscall.Signal, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if n, err := strconv.Atoi(t); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("unknown signal %q (numbers go from 1 to 64)", s)
		}
		return syscall.Signal(n), nil
	}
	if sig, ok := signalNames[strings.TrimPrefix(t, "SIG")]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// SignalName returns the name of sig without the SIG prefix ("TERM"), or
// its number when it has no name.
func SignalName(sig syscall.Signal) string {
	best := ""
	for name, s := range signalNames {
		// IOT and POLL are aliases; prefer the usual names.
		if s == sig && (best == "" || name < best) && name != "IOT" && name != "POLL" {
			best = name
		}
	}
	if best == "" {
		return strconv.Itoa(int(sig))
	}
	return best
}

// ParseBool parses a boolean the way supervisord does: true, yes, on and 1
// are true; false, no, off and 0 are false; case is ignored.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("not a valid boolean value: %q (want true or false)", s)
}

// ParseRestart parses a restart policy: "no", "always", "unless-stopped",
// "unexpected", "on-failure" or "on-failure:N" where N >= 0 caps the number
// of restarts (0 means no cap). It returns the policy and N.
func ParseRestart(s string) (Restart, int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if rest, ok := strings.CutPrefix(t, string(RestartOnFailure)+":"); ok {
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 {
			return "", 0, fmt.Errorf("invalid restart policy %q (on-failure:N needs N >= 0)", s)
		}
		return RestartOnFailure, n, nil
	}
	switch r := Restart(t); r {
	case RestartNo, RestartAlways, RestartOnFailure, RestartUnlessStopped, RestartUnexpected:
		return r, 0, nil
	}
	return "", 0, fmt.Errorf("invalid restart policy %q (want no, always, on-failure[:N], unless-stopped or unexpected)", s)
}

// ParseUmask parses an octal umask such as "022" or "0o022".
func ParseUmask(s string) (uint32, error) {
	t := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0o"), "0O")
	n, err := strconv.ParseUint(t, 8, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("invalid umask %q (want an octal number such as 022)", s)
	}
	return uint32(n), nil
}

// ErrUnterminatedQuote and ErrTrailingBackslash are the reasons
// SplitCommand refuses a command line.
var (
	ErrUnterminatedQuote = errors.New("no closing quotation")
	ErrTrailingBackslash = errors.New("no escaped character after a trailing backslash")
)

// SplitCommand splits a command line into words exactly as Python's
// shlex.split (POSIX mode, no comments) does, since supervisord splits
// command= with it: blanks (space, tab, CR, LF) separate words; single
// quotes keep everything literally; double quotes keep everything, except
// that a backslash before " or \ gives that character (before anything
// else, such as $, it stays: "x\$HOME" is x\$HOME); a backslash outside
// quotes keeps the next character, a newline included. A pair of quotes
// with nothing between makes an empty word. No variable, glob or tilde expansion happens and no shell runs.
func SplitCommand(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // a word is open (it may be empty: "")
	)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\r', '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case '\\':
			if i+1 >= len(s) {
				return nil, ErrTrailingBackslash
			}
			i++
			cur.WriteByte(s[i])
			in = true
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, ErrUnterminatedQuote
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case '"':
			in = true
			for i++; ; i++ {
				if i >= len(s) {
					return nil, ErrUnterminatedQuote
				}
				c := s[i]
				if c == '"' {
					break
				}
				if c == '\\' {
					if i+1 >= len(s) {
						return nil, ErrTrailingBackslash
					}
					i++
					if s[i] != '"' && s[i] != '\\' {
						cur.WriteByte('\\')
					}
				}
				cur.WriteByte(s[i])
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

func sortStrings(s []string) { slices.Sort(s) }
