package xmlrpc

import "testing"

func TestNewFaultWritesSupervisordFaultStrings(t *testing.T) {
	tests := []struct {
		code   int
		detail string
		want   string
	}{
		{FaultUnknownMethod, "", "UNKNOWN_METHOD"},
		{FaultIncorrectParameters, "", "INCORRECT_PARAMETERS"},
		{FaultBadArguments, "x", "BAD_ARGUMENTS: x"},
		{FaultSignatureUnsupported, "", "SIGNATURE_UNSUPPORTED"},
		{FaultShutdownState, "", "SHUTDOWN_STATE"},
		{FaultBadName, "foo", "BAD_NAME: foo"},
		{FaultBadSignal, "HUPP", "BAD_SIGNAL: HUPP"},
		{FaultNoFile, "/bin/nope", "NO_FILE: /bin/nope"},
		{FaultNotExecutable, "/etc/passwd", "NOT_EXECUTABLE: /etc/passwd"},
		{FaultFailed, "web", "FAILED: web"},
		{FaultAbnormalTermination, "web", "ABNORMAL_TERMINATION: web"},
		{FaultSpawnError, "web", "SPAWN_ERROR: web"},
		{FaultAlreadyStarted, "web", "ALREADY_STARTED: web"},
		{FaultNotRunning, "web", "NOT_RUNNING: web"},
		{FaultSuccess, "", "SUCCESS"},
		{FaultAlreadyAdded, "web", "ALREADY_ADDED: web"},
		{FaultStillRunning, "web", "STILL_RUNNING: web"},
		{FaultCantReread, "bad config", "CANT_REREAD: bad config"},
		{999, "x", "UNKNOWN: x"},
	}
	for _, tt := range tests {
		f := NewFault(tt.code, tt.detail)
		if f.Code != tt.code || f.String != tt.want {
			t.Errorf("NewFault(%d, %q) = %+v, want {%d %q}", tt.code, tt.detail, *f, tt.code, tt.want)
		}
	}
}

func TestFaultCodesMatchSupervisord(t *testing.T) {
	// supervisor/xmlrpc.py, class Faults.
	want := map[string]int{
		"UNKNOWN_METHOD": 1, "INCORRECT_PARAMETERS": 2, "BAD_ARGUMENTS": 3,
		"SIGNATURE_UNSUPPORTED": 4, "SHUTDOWN_STATE": 6, "BAD_NAME": 10, "BAD_SIGNAL": 11,
		"NO_FILE": 20, "NOT_EXECUTABLE": 21, "FAILED": 30, "ABNORMAL_TERMINATION": 40,
		"SPAWN_ERROR": 50, "ALREADY_STARTED": 60, "NOT_RUNNING": 70, "SUCCESS": 80,
		"ALREADY_ADDED": 90, "STILL_RUNNING": 91, "CANT_REREAD": 92,
	}
	if len(faultNames) != len(want) {
		t.Errorf("%d fault codes, want %d", len(faultNames), len(want))
	}
	for name, code := range want {
		if got := FaultName(code); got != name {
			t.Errorf("FaultName(%d) = %q, want %q", code, got, name)
		}
	}
}

func TestFaultErrorNamesCodeAndString(t *testing.T) {
	if got, want := NewFault(FaultBadName, "foo").Error(), "xmlrpc fault 10: BAD_NAME: foo"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
