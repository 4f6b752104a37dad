package xmlrpc

import "fmt"

// supervisord's fault codes, from supervisor/xmlrpc.py (class Faults).
const (
	FaultUnknownMethod        = 1
	FaultIncorrectParameters  = 2
	FaultBadArguments         = 3
	FaultSignatureUnsupported = 4
	FaultShutdownState        = 6
	FaultBadName              = 10
	FaultBadSignal            = 11
	FaultNoFile               = 20
	FaultNotExecutable        = 21
	FaultFailed               = 30
	FaultAbnormalTermination  = 40
	FaultSpawnError           = 50
	FaultAlreadyStarted       = 60
	FaultNotRunning           = 70
	FaultSuccess              = 80
	FaultAlreadyAdded         = 90
	FaultStillRunning         = 91
	FaultCantReread           = 92
)

var faultNames = map[int]string{
	FaultUnknownMethod:        "UNKNOWN_METHOD",
	FaultIncorrectParameters:  "INCORRECT_PARAMETERS",
	FaultBadArguments:         "BAD_ARGUMENTS",
	FaultSignatureUnsupported: "SIGNATURE_UNSUPPORTED",
	FaultShutdownState:        "SHUTDOWN_STATE",
	FaultBadName:              "BAD_NAME",
	FaultBadSignal:            "BAD_SIGNAL",
	FaultNoFile:               "NO_FILE",
	FaultNotExecutable:        "NOT_EXECUTABLE",
	FaultFailed:               "FAILED",
	FaultAbnormalTermination:  "ABNORMAL_TERMINATION",
	FaultSpawnError:           "SPAWN_ERROR",
	FaultAlreadyStarted:       "ALREADY_STARTED",
	FaultNotRunning:           "NOT_RUNNING",
	FaultSuccess:              "SUCCESS",
	FaultAlreadyAdded:         "ALREADY_ADDED",
	FaultStillRunning:         "STILL_RUNNING",
	FaultCantReread:           "CANT_REREAD",
}

// FaultName returns supervisord's name for a fault code, such as "BAD_NAME"
// for [FaultBadName], or "UNKNOWN" for a code supervisord does not define.
func FaultName(code int) string {
	if name, ok := faultNames[code]; ok {
		return name
	}
	return "UNKNOWN"
}

// Fault is an XML-RPC fault: the error a method returns to the client.
// A handler that returns a *Fault (possibly wrapped) has it sent as is; any
// other error becomes a [FaultFailed] fault.
type Fault struct {
	Code   int
	String string
}

// NewFault returns the fault supervisord raises for code: its String is the
// code's name ([FaultName]), followed by ": " and detail when detail is not
// empty, e.g. NewFault(FaultBadName, "foo") has String "BAD_NAME: foo".
func NewFault(code int, detail string) *Fault {
	s := FaultName(code)
	if detail != "" {
		s += ": " + detail
	}
	return &Fault{Code: code, String: s}
}

// Error returns the fault as "xmlrpc fault CODE: STRING".
func (f *Fault) Error() string {
	return fmt.Sprintf("xmlrpc fault %d: %s", f.Code, f.String)
}
