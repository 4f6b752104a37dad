package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/corralhq/corral/eventlistener"
)

// Listener makes a program a pool of supervisord event listeners
// ([eventlistener:x]): its processes read events on their stdin and answer
// on their stdout (see package eventlistener).
type Listener struct {
	// Events are the subscribed event type names (events=), upper-case.
	Events []string
	// BufferSize is the number of events the pool buffers (default 10).
	BufferSize int
}

// DefaultResultHandler is supervisord's result_handler default, the only
// one corral has (supervisord imports any Python function named there).
const DefaultResultHandler = "supervisor.dispatchers:default_handler"

// listenerKeys are the keys of [eventlistener:x] that [program:x] has not.
var listenerKeys = map[string]bool{"events": true, "buffer_size": true, "result_handler": true}

// listener reads an [eventlistener:x] section: the program keys, then
// events, buffer_size and result_handler, with supervisord's checks and
// its default priority of -1 (listeners start first and stop last).
func (ip *iniParser) listener(s *iniSection) (Program, error) {
	ps := &iniSection{name: s.name, pos: s.pos, here: s.here}
	for _, kv := range s.keys {
		if !listenerKeys[kv.key] {
			ps.keys = append(ps.keys, kv)
		}
	}
	p, err := ip.program(ps, nil)
	if err != nil {
		return p, err
	}
	if _, ok := s.get("priority"); !ok {
		p.Priority = -1
	}
	if p.Stderr.Redirect {
		return p, s.err("redirect_stderr", errors.New("section sets redirect_stderr=true but this is not allowed because it will interfere with the eventlistener protocol"))
	}
	// The listener's stdout is the protocol, not output to log.
	p.Stdout.File = ""
	ex := &expander{vars: ip.baseVars(s.here), strict: true}
	l := &Listener{BufferSize: eventlistener.DefaultBufferSize}
	if v, ok, err := ip.value(s, ex, "buffer_size"); err != nil {
		return p, err
	} else if ok {
		n, err := iniInt(s, "buffer_size", v, -1<<31)
		if err != nil {
			return p, err
		}
		if n < 1 {
			return p, s.err("buffer_size", fmt.Errorf("section sets invalid buffer_size (%d)", n))
		}
		l.BufferSize = n
	}
	if v, ok, err := ip.value(s, ex, "result_handler"); err != nil {
		return p, err
	} else if ok && strings.TrimSpace(v) != DefaultResultHandler {
		return p, s.err("result_handler", fmt.Errorf("%s cannot be resolved: corral runs no Python, so result_handler can only be %s", strings.TrimSpace(v), DefaultResultHandler))
	}
	v, _, err := ip.value(s, ex, "events")
	if err != nil {
		return p, err
	}
	types, err := eventlistener.ParseEvents(v, s.label())
	if err != nil {
		return p, s.err("events", err)
	}
	for _, t := range types {
		l.Events = append(l.Events, t.String())
	}
	p.Listener = l
	return p, nil
}

// iniEventKey reads the [program:x] keys that feed event listeners:
// std{out,err}_events_enabled and std{out,err}_capture_maxbytes.
func iniEventKey(p *Program, key, v string) error {
	l := &p.Stdout
	if strings.HasPrefix(key, "stderr") {
		l = &p.Stderr
	}
	var err error
	if strings.HasSuffix(key, "_events_enabled") {
		l.Events, err = ParseBool(v)
		return err
	}
	l.CaptureMaxBytes, err = ParseSize(v)
	return err
}
