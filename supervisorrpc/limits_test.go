package supervisorrpc

import (
	"bytes"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/corralhq/corral/supervisorrpc/xmlrpc"
)

// logServer serves a program p whose stdout log holds exactly size bytes
// of "0123456789" repeated, and a daemon log file holding the same.
func logServer(t *testing.T, size int) (sock, content string) {
	t.Helper()
	dir := t.TempDir()
	content = strings.Repeat("0123456789", size/10+1)[:size]
	data := filepath.Join(dir, "data")
	mainLog := filepath.Join(dir, "main.log")
	for _, f := range []string{data, mainLog} {
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "supervisord.conf")
	body := "[unix_http_server]\nfile=" + dir + "/s.sock\n[supervisord]\nlogfile=" + mainLog + "\nchildlogdir=" + dir + "\n" +
		"[program:p]\ncommand=sh -c 'cat " + data + "; exec sleep 1000'\nstartsecs=0\nstdout_logfile=" + dir + "/p.log\nstdout_logfile_maxbytes=0\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, conf)
	s.waitState(t, "p", "RUNNING")
	waitFor(t, "the log written", func() bool {
		fi, err := os.Stat(filepath.Join(dir, "p.log"))
		return err == nil && fi.Size() == int64(size)
	})
	return filepath.Join(dir, "s.sock"), content
}

func i64(n int64) string { return "<i8>" + strconv.FormatInt(n, 10) + "</i8>" }

// TestLogMethodsTakeAnyOffset calls every log-reading method with edge
// offsets and lengths: none may panic; impossible values are BAD_ARGUMENTS,
// the others follow supervisord.
func TestLogMethodsTakeAnyOffset(t *testing.T) {
	sock, content := logServer(t, 100)
	str := func(s string) string { return "<value><string>" + s + "</string></value>" }
	const minI, maxI = math.MinInt64, math.MaxInt64
	type tc struct {
		offset, length int64
		want           string // substring of the response
	}
	// supervisord's readFile: negative offset = from the end (length 0).
	read := []tc{
		{minI, 0, "BAD_ARGUMENTS"},
		{minI, 5, "BAD_ARGUMENTS"},
		{-1, 0, str("9")},
		{-1, 5, "BAD_ARGUMENTS"},
		{-1000, 0, str(content)},
		{0, 0, str(content)},
		{0, -1, "BAD_ARGUMENTS"},
		{0, minI, "BAD_ARGUMENTS"},
		{0, maxI, str(content)},
		{90, 0, str(content[90:])},
		{maxI, 0, str("")},
		{maxI, maxI, str("")},
	}
	// supervisord's tailFile never faults: out-of-range values read nothing.
	tail := []tc{
		{minI, 0, str("") + "\n<value><int>100</int></value>\n<value><boolean>1</boolean>"},
		{minI, maxI, str(content) + "\n<value><int>100</int></value>\n<value><boolean>1</boolean>"},
		{-1, 0, str("") + "\n<value><int>100</int></value>\n<value><boolean>1</boolean>"},
		{0, 0, str("") + "\n<value><int>100</int></value>\n<value><boolean>1</boolean>"},
		{0, 10, str(content[90:]) + "\n<value><int>100</int></value>\n<value><boolean>1</boolean>"},
		{0, minI, str("") + "\n<value><int>100</int></value>\n<value><boolean>1</boolean>"},
		{0, maxI, str(content) + "\n<value><int>100</int></value>\n<value><boolean>0</boolean>"},
		{maxI, 0, str("") + "\n<value><int>100</int></value>\n<value><boolean>0</boolean>"},
		{maxI, maxI, str("") + "\n<value><int>100</int></value>\n<value><boolean>0</boolean>"},
		{maxI, minI, str("") + "\n<value><int>100</int></value>\n<value><boolean>1</boolean>"},
	}
	for _, m := range []struct {
		method string
		args   []string
		cases  []tc
	}{
		{"supervisor.readLog", nil, read},
		{"supervisor.readMainLog", nil, read},
		{"supervisor.readProcessStdoutLog", []string{"<string>p</string>"}, read},
		{"supervisor.readProcessLog", []string{"<string>p</string>"}, read},
		{"supervisor.tailProcessStdoutLog", []string{"<string>p</string>"}, tail},
		{"supervisor.tailProcessLog", []string{"<string>p</string>"}, tail},
	} {
		for _, c := range m.cases {
			args := append(append([]string{}, m.args...), i64(c.offset), i64(c.length))
			got := rpc(t, sock, call1(m.method, args...))
			if !strings.Contains(got, c.want) {
				t.Errorf("%s(%d, %d) =\n%.300s\nwant it to contain %q", m.method, c.offset, c.length, got, c.want)
			}
		}
	}
	// The call of the audit, exactly.
	got := rpc(t, sock, call1("supervisor.readLog", "<int>-9223372036854775808</int>", "<int>0</int>"))
	if !strings.Contains(got, "<int>3</int>") || !strings.Contains(got, "BAD_ARGUMENTS") {
		t.Errorf("readLog(-9223372036854775808, 0) = %s, want a BAD_ARGUMENTS fault", got)
	}
	// stderr's log is empty.
	for _, o := range []int64{minI, -1, 0, maxI} {
		want := str("")
		if o == minI {
			want = "BAD_ARGUMENTS"
		}
		got := rpc(t, sock, call1("supervisor.readProcessStderrLog", "<string>p</string>", i64(o), i64(0)))
		if !strings.Contains(got, want) {
			t.Errorf("readProcessStderrLog(p, %d, 0) = %.300s, want %q", o, got, want)
		}
		got = rpc(t, sock, call1("supervisor.tailProcessStderrLog", "<string>p</string>", i64(o), i64(maxI)))
		if !strings.Contains(got, str("")) {
			t.Errorf("tailProcessStderrLog(p, %d, max) = %.300s, want an empty read", o, got)
		}
	}
}

// TestMulticallOfLogReadsIsBounded is the audit's amplification: many
// whole-log reads in one system.multicall. Each call returns at most
// maxRead bytes and the response stays within the multicall budget.
func TestMulticallOfLogReadsIsBounded(t *testing.T) {
	size := maxRead + maxRead/2
	sock, content := logServer(t, size)

	got := rpc(t, sock, call1("supervisor.readProcessStdoutLog", "<string>p</string>", "<int>0</int>", "<int>0</int>"))
	if want := "<value><string>" + content[:maxRead] + "</string></value>"; !strings.Contains(got, want) {
		t.Errorf("readProcessStdoutLog(p, 0, 0) returned %d bytes, want the first %d of the log", len(got), maxRead)
	}

	// A tail longer than maxRead keeps the newest bytes and reports the skip.
	got = rpc(t, sock, call1("supervisor.tailProcessStdoutLog", "<string>p</string>", "<int>0</int>", i64(math.MaxInt64)))
	if want := "<value><string>" + content[size-maxRead:] + "</string></value>\n<value><int>" + strconv.Itoa(size) + "</int></value>\n<value><boolean>1</boolean>"; !strings.Contains(got, want) {
		t.Errorf("tailProcessStdoutLog(p, 0, max) returned %d bytes, want the last %d of the log with overflow", len(got), maxRead)
	}

	var calls strings.Builder
	calls.WriteString("<array><data>")
	const n = 30
	for range n {
		calls.WriteString("<value><struct><member><name>methodName</name><value><string>supervisor.readProcessStdoutLog</string></value></member>" +
			"<member><name>params</name><value><array><data><value><string>p</string></value><value><int>0</int></value><value><int>0</int></value></data></array></value></member></struct></value>")
	}
	calls.WriteString("</data></array>")
	got = rpc(t, sock, call1("system.multicall", calls.String()))
	if limit := xmlrpc.MaxMulticallResponse + maxRead + 64<<10; len(got) > limit {
		t.Errorf("multicall of %d whole-log reads: response of %d bytes, want at most %d", n, len(got), limit)
	}
	if !strings.Contains(got, "reached its limit") {
		t.Errorf("multicall response does not say calls were refused: %.300s", got[len(got)-min(len(got), 600):])
	}
	if runs := strings.Count(got, "<value><string>0123456789"); runs < 1 || runs > xmlrpc.MaxMulticallResponse/maxRead+1 {
		t.Errorf("%d reads ran", runs)
	}
}

func TestPanicInAMethodIsOneLogLine(t *testing.T) {
	var buf bytes.Buffer
	h := &handler{log: slog.New(slog.NewTextHandler(&buf, nil))}
	err := func() (err error) {
		defer h.recoverCall("supervisor.test", &err)
		var p []byte
		_ = p[5]
		return nil
	}()
	if f := asFault(err); f.Code != xmlrpc.FaultFailed || !strings.Contains(f.String, "supervisor.test panicked") {
		t.Errorf("panic became %v, want a FAILED fault naming the method", err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != 1 || !strings.Contains(buf.String(), "index out of range") {
		t.Errorf("daemon log after a panic (info level):\n%s\nwant one line naming it", buf.String())
	}
}
