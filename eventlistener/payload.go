package eventlistener

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Message is one event as a pool receives it: its type and its payload,
// already rendered as supervisord renders it (the values are those at the
// time of the event).
type Message struct {
	Type    Type
	Payload string
}

// StateName returns supervisord's name of a process state code (STOPPED 0,
// STARTING 10, RUNNING 20, BACKOFF 30, STOPPING 40, EXITED 100, FATAL 200,
// UNKNOWN 1000), as in the from_state field.
func StateName(code int) string {
	switch code {
	case 0:
		return "STOPPED"
	case 10:
		return "STARTING"
	case 20:
		return "RUNNING"
	case 30:
		return "BACKOFF"
	case 40:
		return "STOPPING"
	case 100:
		return "EXITED"
	case 200:
		return "FATAL"
	}
	return "UNKNOWN"
}

// StateEvent renders a PROCESS_STATE_* event of the process name in group,
// leaving from (a StateName). Its extra fields are supervisord's: tries for
// STARTING and BACKOFF, expected and pid for EXITED, pid for RUNNING,
// STOPPING and STOPPED, none for FATAL and UNKNOWN.
func StateEvent(t Type, name, group, from string, tries, pid int, expected bool) Message {
	var b strings.Builder
	b.WriteString("processname:" + name + " groupname:" + group + " from_state:" + from)
	switch t {
	case ProcessStateStarting, ProcessStateBackoff:
		b.WriteString(" tries:" + strconv.Itoa(tries))
	case ProcessStateExited:
		e := "0"
		if expected {
			e = "1"
		}
		b.WriteString(" expected:" + e + " pid:" + strconv.Itoa(pid))
	case ProcessStateRunning, ProcessStateStopping, ProcessStateStopped:
		b.WriteString(" pid:" + strconv.Itoa(pid))
	}
	return Message{Type: t, Payload: b.String()}
}

// TickEvent renders a TICK_5, TICK_60 or TICK_3600 event for the period
// start when (Unix seconds).
func TickEvent(t Type, when int64) Message {
	return Message{Type: t, Payload: "when:" + strconv.FormatInt(when, 10)}
}

// GroupEvent renders PROCESS_GROUP_ADDED or PROCESS_GROUP_REMOVED.
func GroupEvent(t Type, group string) Message {
	return Message{Type: t, Payload: "groupname:" + group + "\n"}
}

// SupervisorEvent renders SUPERVISOR_STATE_CHANGE_RUNNING or _STOPPING
// (an empty payload).
func SupervisorEvent(t Type) Message { return Message{Type: t} }

// RemoteEvent renders REMOTE_COMMUNICATION, sent by the XML-RPC method
// supervisor.sendRemoteCommEvent(type, data).
func RemoteEvent(typ, data string) Message {
	return Message{Type: RemoteCommunication, Payload: "type:" + typ + "\n" + data}
}

// LogEvent renders PROCESS_LOG_STDOUT or _STDERR: output data of the
// process name of group with pid.
func LogEvent(t Type, name, group string, pid int, data []byte) Message {
	channel := "stdout"
	if t == ProcessLogStderr {
		channel = "stderr"
	}
	return Message{Type: t, Payload: "processname:" + name + " groupname:" + group + " pid:" + strconv.Itoa(pid) +
		" channel:" + channel + "\n" + text(data)}
}

// CommunicationEvent renders PROCESS_COMMUNICATION_STDOUT or _STDERR: what
// the process wrote between the BeginToken and EndToken.
func CommunicationEvent(t Type, name, group string, pid int, data []byte) Message {
	return Message{Type: t, Payload: "processname:" + name + " groupname:" + group + " pid:" + strconv.Itoa(pid) + "\n" + text(data)}
}

// The tokens around a PROCESS_COMMUNICATION message in a process's output.
const (
	BeginToken = "<!--XSUPERVISOR:BEGIN-->"
	EndToken   = "<!--XSUPERVISOR:END-->"
)

// text is data as supervisord puts bytes in a payload: the text when it is
// valid UTF-8, otherwise "Undecodable: " and Python's repr of the bytes.
func text(data []byte) string {
	if utf8.Valid(data) {
		return string(data)
	}
	return "Undecodable: " + pyBytesRepr(data)
}

// pyBytesRepr is Python 3's repr of a bytes value.
func pyBytesRepr(b []byte) string {
	q := byte('\'')
	if strings.IndexByte(string(b), '\'') >= 0 && strings.IndexByte(string(b), '"') < 0 {
		q = '"'
	}
	var s strings.Builder
	s.WriteString("b")
	s.WriteByte(q)
	for _, c := range b {
		switch {
		case c == q || c == '\\':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c == '\t':
			s.WriteString(`\t`)
		case c == '\n':
			s.WriteString(`\n`)
		case c == '\r':
			s.WriteString(`\r`)
		case c < 0x20 || c >= 0x7f:
			s.WriteString(`\x`)
			s.WriteByte("0123456789abcdef"[c>>4])
			s.WriteByte("0123456789abcdef"[c&15])
		default:
			s.WriteByte(c)
		}
	}
	s.WriteByte(q)
	return s.String()
}

// envelope is the header line and payload supervisord writes to a
// listener's stdin. len counts characters, as Python's len of the payload
// string does (and as childutils reads it from a text stream).
func envelope(server string, serial int64, pool string, poolSerial int64, m Message) []byte {
	var b strings.Builder
	b.Grow(128 + len(m.Payload))
	b.WriteString("ver:3.0 server:" + server + " serial:" + strconv.FormatInt(serial, 10) +
		" pool:" + pool + " poolserial:" + strconv.FormatInt(poolSerial, 10) +
		" eventname:" + m.Type.String() + " len:" + strconv.Itoa(utf8.RuneCountInString(m.Payload)) + "\n")
	b.WriteString(m.Payload)
	return []byte(b.String())
}
