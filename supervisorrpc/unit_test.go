package supervisorrpc

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corralhq/corral/config"
	"github.com/corralhq/corral/daemon"
)

func TestDescriptionsMatchSupervisord(t *testing.T) {
	loc := time.FixedZone("X", 0)
	stop := time.Date(2024, 11, 28, 7, 30, 0, 0, loc).Unix()
	tests := []struct {
		name           string
		state, pid     int
		start, now     int64
		spawnerr, want string
	}{
		{"running", stateRunning, 123, 1000, 1062, "", "pid 123, uptime 0:01:02"},
		{"running a day", stateRunning, 7, 0, 86400 + 3723, "", "pid 7, uptime 1 day, 1:02:03"},
		{"running days", stateRunning, 7, 0, 3 * 86400, "", "pid 7, uptime 3 days, 0:00:00"},
		{"clock set back", stateRunning, 7, 100, 50, "", "pid 7, uptime 0:00:00"},
		{"never started", stateStopped, 0, 0, 5, "", "Not started"},
		{"stopped", stateStopped, 0, 1, stop + 5, "", "Nov 28 07:30 AM"},
		{"exited", stateExited, 0, 1, stop + 5, "", "Nov 28 07:30 AM"},
		{"fatal", stateFatal, 0, 1, 5, exitedTooQuickly, exitedTooQuickly},
		{"backoff without reason", stateBackoff, 0, 1, 5, "", `unknown error (try "tail x")`},
		{"starting", stateStarting, 9, 1, 5, "", ""},
		{"stopping", stateStopping, 9, 1, 5, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := int64(stop)
			if got := describe(tt.state, tt.pid, tt.start, s, tt.now, tt.spawnerr, "x", loc); got != tt.want {
				t.Errorf("describe = %q, want %q", got, tt.want)
			}
		})
	}
	if got := spawnError(""); got != exitedTooQuickly {
		t.Errorf("spawnError(\"\") = %q", got)
	}
	if got := spawnError("exited too quickly (4 failed starts in a row)"); got != exitedTooQuickly {
		t.Errorf("spawnError(fatal) = %q", got)
	}
	if got := spawnError(`exec: "nope": not found`); got != `exec: "nope": not found` {
		t.Errorf("spawnError(spawn) = %q", got)
	}
}

func TestReadAndTailWindowsFollowSupervisordsReadFileAndTailFile(t *testing.T) {
	read := []struct {
		size, offset, length, from, n int64
		bad                           bool
	}{
		{100, -10, 0, 90, 10, false},
		{5, -10, 0, 0, 5, false},
		{100, -10, 5, 0, 0, true},
		{100, 10, -1, 0, 0, true},
		{100, 10, 0, 10, 90, false},
		{100, 10, 20, 10, 20, false},
		{100, 200, 20, 200, 0, false},
	}
	for _, r := range read {
		from, n, err := readWindow(r.size, r.offset, r.length)
		if (err != nil) != r.bad || (!r.bad && (from != r.from || n != r.n)) {
			t.Errorf("readWindow(%d, %d, %d) = %d, %d, %v", r.size, r.offset, r.length, from, n, err)
		}
	}
	tail := []struct {
		size, offset, length, from, n int64
		overflow                      bool
	}{
		{100, 0, 1600, 0, 100, false},
		{3000, 0, 1600, 1400, 1600, true},
		{100, 100, 1600, 100, 0, false},
		{150, 100, 1600, 0, 150, false},
		{0, 0, 10, 0, 0, false},
	}
	for _, r := range tail {
		from, n, ov := tailWindow(r.size, r.offset, r.length)
		if from != r.from || n != r.n || ov != r.overflow {
			t.Errorf("tailWindow(%d, %d, %d) = %d, %d, %v; want %d, %d, %v", r.size, r.offset, r.length, from, n, ov, r.from, r.n, r.overflow)
		}
	}
}

func TestPasswordsPlainAndSHA(t *testing.T) {
	sum := sha1.Sum([]byte("pw"))
	sha := "{SHA}" + hex.EncodeToString(sum[:])
	for _, tt := range []struct {
		want, user, pass string
		ok               bool
	}{
		{"pw", "u", "pw", true},
		{"pw", "u", "PW", false},
		{"pw", "v", "pw", false},
		{sha, "u", "pw", true},
		{sha, "u", sha, false},
		{strings.ToUpper(sha[:5]) + strings.ToUpper(sha[5:]), "u", "pw", true},
	} {
		// Through the handler: past authentication, an unknown path is
		// a 404.
		h := Handler(nil, Options{Username: "u", Password: tt.want, Logger: slog.New(slog.DiscardHandler)})
		req := httptest.NewRequest("GET", "/nope", nil)
		req.SetBasicAuth(tt.user, tt.pass)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Code != http.StatusUnauthorized; got != tt.ok {
			t.Errorf("password %q, credentials %q %q: status %d", tt.want, tt.user, tt.pass, rec.Code)
		}
	}
}

func TestInetRefusedWithoutCredentials(t *testing.T) {
	for _, in := range []*config.InetHTTPServer{
		{Port: "127.0.0.1:0", Source: config.Position{File: "/etc/supervisord.conf", Line: 7}},
		{Port: "127.0.0.1:0", Username: "u"},
		{Port: "127.0.0.1:0", Password: "p"},
	} {
		l, err := ListenInet(in)
		if err == nil {
			l.Close()
			t.Fatalf("ListenInet(%+v) listened", in)
		}
		if !strings.Contains(err.Error(), "username and password") {
			t.Errorf("error %q does not say what is missing", err)
		}
	}
	_, err := ListenInet(&config.InetHTTPServer{Port: "127.0.0.1:0", Source: config.Position{File: "/etc/s.conf", Line: 7}})
	if !strings.Contains(err.Error(), "/etc/s.conf:7") {
		t.Errorf("error %q does not name the file and line", err)
	}
	l, err := ListenInet(&config.InetHTTPServer{Port: "127.0.0.1:0", Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}

func TestGroupDiff(t *testing.T) {
	p := func(name, group string) config.Program { return config.Program{Name: name, Group: group} }
	cur := []config.Program{p("a", ""), p("one", "g"), p("two", "g"), p("gone", "")}
	next := []config.Program{p("a", ""), p("one", "g"), p("new", ""), p("three", "g")}
	added, changed, removed := groupDiff(daemon.Diff{Added: []string{"new", "three"}, Removed: []string{"gone", "two"}}, cur, next)
	if strings.Join(added, ",") != "new" || strings.Join(changed, ",") != "g" || strings.Join(removed, ",") != "gone" {
		t.Fatalf("groupDiff = %v %v %v", added, changed, removed)
	}
}

// rpc posts a raw XML-RPC call to the endpoint over its unix socket.
func rpc(t *testing.T, sock, body string) string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	defer c.CloseIdleConnections()
	resp, err := c.Post("http://localhost/RPC2", "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func call1(method string, params ...string) string {
	var b strings.Builder
	b.WriteString("<?xml version='1.0'?><methodCall><methodName>" + method + "</methodName><params>")
	for _, p := range params {
		b.WriteString("<param><value>" + p + "</value></param>")
	}
	b.WriteString("</params></methodCall>")
	return b.String()
}

func TestMethodsOutsideSupervisorctl(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "supervisord.conf")
	body := "[unix_http_server]\nfile=" + dir + "/s.sock\n[supervisord]\nchildlogdir=" + dir + "\n" +
		"[program:p]\ncommand=sleep 1000\nstartsecs=0\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, conf)
	s.waitState(t, "p", "RUNNING")
	sock := filepath.Join(dir, "s.sock")
	for _, tt := range []struct{ call, want string }{
		{call1("supervisor.sendProcessStdin", "<string>p</string>", "<string>hi</string>"), "<boolean>1</boolean>"},
		{call1("supervisor.sendProcessStdin", "<string>p</string>", "<int>1</int>"), "<name>faultCode</name>\n<value><int>2</int></value>"},
		{call1("supervisor.sendProcessStdin", "<string>nope</string>", "<string>hi</string>"), "BAD_NAME: nope"},
		{call1("supervisor.getState"), "<name>statename</name>\n<value><string>RUNNING</string></value>"},
		{call1("supervisor.getAPIVersion"), "<string>3.0</string>"},
		{call1("supervisor.getIdentification"), "<string>supervisor</string>"},
		{call1("supervisor.getProcessInfo", "<string>p:*</string>"), "BAD_NAME: p:*"},
		{call1("supervisor.getProcessInfo", "<string>p</string>"), "<name>description</name>\n<value><string>pid "},
		{call1("supervisor.startProcess", "<string>p</string>"), "ALREADY_STARTED: p"},
		{call1("supervisor.signalProcess", "<string>p</string>", "<string>NOPE</string>"), "BAD_SIGNAL: NOPE"},
		{call1("supervisor.nope"), "UNKNOWN_METHOD"},
		{call1("supervisor.readLog", "<int>0</int>", "<int>0</int>"), "NO_FILE"},
		{call1("system.listMethods"), "<string>supervisor.tailProcessStderrLog</string>"},
		{call1("system.methodSignature", "<string>supervisor.startProcess</string>"), "<value><string>boolean</string></value>\n<value><string>string</string></value>\n<value><string>boolean</string></value>"},
		{call1("system.methodSignature", "<string>supervisor.nope</string>"), "SIGNATURE_UNSUPPORTED"},
		{call1("system.multicall", "<array><data><value><struct><member><name>methodName</name><value><string>supervisor.getPID</string></value></member></struct></value>"+
			"<value><struct><member><name>methodName</name><value><string>supervisor.stopProcess</string></value></member><member><name>params</name><value><array><data><value><string>x</string></value></data></array></value></member></struct></value></data></array>"),
			"BAD_NAME: x"},
	} {
		if got := rpc(t, sock, tt.call); !strings.Contains(got, tt.want) {
			t.Errorf("%s\n= %s\nwant it to contain %q", tt.call, got, tt.want)
		}
	}
}
