package eventlistener

import (
	"fmt"
	"strings"
)

// Type is a supervisord event type. Abstract types (EVENT, PROCESS_STATE,
// TICK, ...) are only subscribed to; events are always of a concrete type.
type Type int

// The event types, with supervisord's names (events.EventTypes).
const (
	Event        Type = iota + 1 // abstract: every event
	ProcessState                 // abstract
	ProcessStateStopped
	ProcessStateExited
	ProcessStateStarting
	ProcessStateStopping
	ProcessStateBackoff
	ProcessStateFatal
	ProcessStateRunning
	ProcessStateUnknown
	ProcessCommunication // abstract
	ProcessCommunicationStdout
	ProcessCommunicationStderr
	ProcessLog // abstract
	ProcessLogStdout
	ProcessLogStderr
	RemoteCommunication
	SupervisorStateChange // abstract
	SupervisorStateChangeRunning
	SupervisorStateChangeStopping
	Tick // abstract
	Tick5
	Tick60
	Tick3600
	ProcessGroup // abstract
	ProcessGroupAdded
	ProcessGroupRemoved
	numTypes
)

var typeNames = [numTypes]string{
	Event: "EVENT", ProcessState: "PROCESS_STATE",
	ProcessStateStopped: "PROCESS_STATE_STOPPED", ProcessStateExited: "PROCESS_STATE_EXITED",
	ProcessStateStarting: "PROCESS_STATE_STARTING", ProcessStateStopping: "PROCESS_STATE_STOPPING",
	ProcessStateBackoff: "PROCESS_STATE_BACKOFF", ProcessStateFatal: "PROCESS_STATE_FATAL",
	ProcessStateRunning: "PROCESS_STATE_RUNNING", ProcessStateUnknown: "PROCESS_STATE_UNKNOWN",
	ProcessCommunication:       "PROCESS_COMMUNICATION",
	ProcessCommunicationStdout: "PROCESS_COMMUNICATION_STDOUT", ProcessCommunicationStderr: "PROCESS_COMMUNICATION_STDERR",
	ProcessLog: "PROCESS_LOG", ProcessLogStdout: "PROCESS_LOG_STDOUT", ProcessLogStderr: "PROCESS_LOG_STDERR",
	RemoteCommunication:   "REMOTE_COMMUNICATION",
	SupervisorStateChange: "SUPERVISOR_STATE_CHANGE", SupervisorStateChangeRunning: "SUPERVISOR_STATE_CHANGE_RUNNING",
	SupervisorStateChangeStopping: "SUPERVISOR_STATE_CHANGE_STOPPING",
	Tick:                          "TICK", Tick5: "TICK_5", Tick60: "TICK_60", Tick3600: "TICK_3600",
	ProcessGroup: "PROCESS_GROUP", ProcessGroupAdded: "PROCESS_GROUP_ADDED", ProcessGroupRemoved: "PROCESS_GROUP_REMOVED",
}

// parent is each type's base class in supervisord's hierarchy.
var parent = [numTypes]Type{
	ProcessState:        Event,
	ProcessStateStopped: ProcessState, ProcessStateExited: ProcessState, ProcessStateStarting: ProcessState,
	ProcessStateStopping: ProcessState, ProcessStateBackoff: ProcessState, ProcessStateFatal: ProcessState,
	ProcessStateRunning: ProcessState, ProcessStateUnknown: ProcessState,
	ProcessCommunication: Event, ProcessCommunicationStdout: ProcessCommunication, ProcessCommunicationStderr: ProcessCommunication,
	ProcessLog: Event, ProcessLogStdout: ProcessLog, ProcessLogStderr: ProcessLog,
	RemoteCommunication:   Event,
	SupervisorStateChange: Event, SupervisorStateChangeRunning: SupervisorStateChange, SupervisorStateChangeStopping: SupervisorStateChange,
	Tick: Event, Tick5: Tick, Tick60: Tick, Tick3600: Tick,
	ProcessGroup: Event, ProcessGroupAdded: ProcessGroup, ProcessGroupRemoved: ProcessGroup,
}

// String returns supervisord's name of the type, e.g. "PROCESS_STATE_FATAL".
func (t Type) String() string {
	if t > 0 && t < numTypes {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// Is reports whether an event of type t is delivered to a subscriber of
// sub: sub is t or one of its ancestors (subscribing to PROCESS_STATE gets
// every PROCESS_STATE_*, EVENT gets everything).
func (t Type) Is(sub Type) bool {
	for ; t != 0; t = parent[t] {
		if t == sub {
			return true
		}
	}
	return false
}

// ParseType returns the type named name (case-insensitive, as supervisord
// upper-cases the names of an events= line).
func ParseType(name string) (Type, bool) {
	name = strings.ToUpper(strings.TrimSpace(name))
	for t := Event; t < numTypes; t++ {
		if typeNames[t] == name {
			return t, true
		}
	}
	return 0, false
}

// ParseEvents parses the value of an [eventlistener:x] events= key: a
// comma-separated list of type names. It returns supervisord's error for an
// unknown name or an empty list; section is "[eventlistener:x]".
func ParseEvents(value, section string) ([]Type, error) {
	var out []Type
	seen := map[Type]bool{}
	for f := range strings.SplitSeq(value, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		t, ok := ParseType(f)
		if !ok {
			return nil, eventsError(fmt.Sprintf("Unknown event type %s in %s events", strings.ToUpper(f), section))
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s section requires an \"events\" line", section)
	}
	return out, nil
}

// eventsError is an error of an events= line, in supervisord's words
// (which begin with a capital).
type eventsError string

func (e eventsError) Error() string { return string(e) }
