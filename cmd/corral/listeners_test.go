package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corralhq/corral/client"
	"github.com/corralhq/corral/httpguard"
)

// nobody is the other user of the tests, which run as root in CI.
const nobody = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test runs commands as nobody and needs root; CI runs the tests as root")
	}
}

// sharedDir returns a new directory that nobody can enter (the test's
// temporary directories are private to root), removed at cleanup.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "corral-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startDaemonConfig runs `corral daemon --config dir/name` (a file written
// with body) with its log in dir/daemon.log, and stops it at cleanup.
func startDaemonConfig(t *testing.T, dir, name, body string, c *client.Client) {
	t.Helper()
	cfg := filepath.Join(dir, name)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	spawnTestDaemon(t, dir, cfg, []string{"--state-dir", filepath.Join(dir, "state")})
	deadline := time.Now().Add(hang)
	for {
		_, err := c.Info(context.Background())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// asNobody runs argv as uid/gid 65534 with env and returns its output.
func asNobody(t *testing.T, env []string, argv ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// probe is run by python3 as nobody: one request per line of argv
// ("METHOD PATH USER PASSWORD", "-" for no credentials), the status of
// each printed on a line.
const probe = `
import base64, http.client, socket, sys
class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(sys.argv[1])
for spec in sys.argv[2:]:
    method, path, user, pw = spec.split(" ")
    headers = {"Content-Type": "application/json"}
    body = None
    if user != "-":
        headers["Authorization"] = "Basic " + base64.b64encode((user + ":" + pw).encode()).decode()
    if method == "POST" and path == "/v1/programs":
        body = '{"name": "pwned", "command": "touch ' + sys.argv[1] + '.pwned"}'
    if path == "/RPC2":
        headers["Content-Type"] = "text/xml"
        body = "<?xml version='1.0'?><methodCall><methodName>supervisor.getState</methodName><params></params></methodCall>"
    c = Conn("localhost")
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    r.read()
    print(spec, r.status)
`

// TestEveryPathOnTheSocketNeedsItsCredentials is the audit's case: a
// supervisord configuration with chmod=0777 and credentials; as nobody,
// every path (the JSON API, /metrics, XML-RPC) must answer 401 without
// them, and POST /v1/programs must not run anything.
func TestEveryPathOnTheSocketNeedsItsCredentials(t *testing.T) {
	needRoot(t)
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("%s is required (apt-get install python3): %v", py, err)
	}
	dir := sharedDir(t)
	sock := filepath.Join(dir, "supervisor.sock")
	conf := fmt.Sprintf(`[unix_http_server]
file = %s
chmod = 0777
username = admin
password = {SHA}%x

[supervisord]
childlogdir = %s/logs
`, sock, sha1.Sum([]byte("s3cret")), dir) // supervisord's {SHA} form
	startDaemonConfig(t, dir, "supervisord.conf", conf, client.New(sock, client.WithBasicAuth("admin", "s3cret")))

	var specs []string
	for _, ep := range []string{"GET /v1/processes", "GET /v1/info", "GET /metrics", "POST /RPC2", "GET /logtail/x", "GET /nothing/here", "POST /v1/programs"} {
		specs = append(specs, ep+" - -")
	}
	// Wrong credentials too, fewer than the throttle lets through without
	// delay (httpguard's tests cover the delays).
	specs = append(specs, "POST /v1/programs admin wrong", "GET /metrics nobody s3cret")
	out, err := asNobody(t, []string{"PATH=/usr/bin:/bin"}, append([]string{py, "-c", probe, sock}, specs...)...)
	if err != nil {
		t.Fatalf("python3 as nobody: %v\n%s", err, out)
	}
	for _, spec := range specs {
		if !strings.Contains(out, spec+" 401\n") {
			t.Errorf("%q did not answer 401; all answers:\n%s", spec, out)
		}
	}
	if _, err := os.Stat(sock + ".pwned"); err == nil {
		t.Fatal("POST /v1/programs without credentials ran a command")
	}
	// With the credentials, nobody gets through (the socket is 0777: the
	// credentials are what protects it).
	specs = []string{"GET /v1/processes admin s3cret", "GET /v1/info admin s3cret", "GET /metrics admin s3cret", "POST /RPC2 admin s3cret"}
	out, err = asNobody(t, []string{"PATH=/usr/bin:/bin"}, append([]string{py, "-c", probe, sock}, specs...)...)
	if err != nil {
		t.Fatalf("python3 as nobody: %v\n%s", err, out)
	}
	for _, spec := range specs {
		if !strings.Contains(out, spec+" 200\n") {
			t.Errorf("%q did not answer 200; all answers:\n%s", spec, out)
		}
	}
	// Each wrong password was logged, without the password.
	b, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
	if n := strings.Count(string(b), "authentication failed"); n != 2 {
		t.Errorf("%d failures logged, want 2:\n%s", n, b)
	}
	if strings.Contains(string(b), "wrong") || strings.Contains(string(b), "s3cret") {
		t.Errorf("the daemon log shows a password:\n%s", b)
	}
}

// TestDefaultSocketDirectoryOfAnotherUserIsRefused: without
// XDG_RUNTIME_DIR a user's default socket is $TMPDIR/corral-UID; a
// directory there that another user owns, or that is writable by others,
// is refused by the daemon and by the client, naming it, its owner and its
// mode.
func TestDefaultSocketDirectoryOfAnotherUserIsRefused(t *testing.T) {
	needRoot(t)
	tmp := sharedDir(t)
	// The test binary's directory is private to root: nobody runs a copy.
	bin := filepath.Join(tmp, "corral")
	copyFile(t, os.Args[0], bin, 0o755)
	sockDir := filepath.Join(tmp, fmt.Sprintf("corral-%d", nobody))
	for _, tt := range []struct {
		name      string
		uid       int
		mode      os.FileMode
		wantOwner string
	}{
		{"owned by another user", 1, 0o700, "owner uid 1"},
		{"mode 0777", nobody, 0o777, fmt.Sprintf("owner uid %d", nobody)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.RemoveAll(sockDir); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(sockDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(sockDir, tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(sockDir, tt.uid, tt.uid); err != nil {
				t.Fatal(err)
			}
			env := []string{runMainEnv + "=1", "TMPDIR=" + tmp, "HOME=" + tmp, "PATH=/usr/bin:/bin", "WORK=" + tmp}
			t.Cleanup(func() { reapScript(tmp) })
			for _, argv := range [][]string{{bin, "daemon"}, {bin, "status"}} {
				out, err := asNobody(t, env, argv...)
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 {
					t.Errorf("%s as nobody: %v, want exit status 1\n%s", argv[1], err, out)
				}
				for _, want := range []string{"socket directory " + sockDir, tt.wantOwner, fmt.Sprintf("mode %04o", tt.mode), "another user could replace the socket"} {
					if !strings.Contains(out, want) {
						t.Errorf("%s as nobody: output lacks %q:\n%s", argv[1], want, out)
					}
				}
			}
			if _, err := os.Stat(filepath.Join(sockDir, "corral.sock")); err == nil {
				t.Error("the daemon made its socket in the refused directory")
			}
		})
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestEachListenerLimitsItsConnections: on the socket and on the TCP
// listener, httpguard.MaxConns connections are served at once; the next
// one waits until one of them closes, and the listener goes on serving.
func TestEachListenerLimitsItsConnections(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	conf := fmt.Sprintf(`[unix_http_server]
file = %s
username = admin
password = s3cret
[inet_http_server]
port = 127.0.0.1:0
username = admin
password = s3cret
[supervisord]
childlogdir = %s/logs
; corral's own lines (the TCP address) are at debug in supervisord's log
loglevel = debug
`, sock, dir)
	c := client.New(sock, client.WithBasicAuth("admin", "s3cret"))
	startDaemonConfig(t, dir, "supervisord.conf", conf, c)
	// The readiness check's idle connection would take a slot.
	c.Close()
	b, err := os.ReadFile(filepath.Join(dir, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`on TCP.* addr=(127\.0\.0\.1:\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no TCP address in the daemon log:\n%s", b)
	}
	for _, l := range []struct{ network, addr, path string }{
		{"unix", sock, "/v1/info"},
		{"tcp", string(m[1]), "/RPC2"},
	} {
		t.Run(l.network, func(t *testing.T) {
			request := func(c net.Conn) *bufio.Reader {
				t.Helper()
				// admin:s3cret. A GET of /RPC2 gets an answer too, which
				// is all this test needs.
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46czNjcmV0\r\n\r\n", l.path)
				return bufio.NewReader(c)
			}
			answered := func(c net.Conn, br *bufio.Reader) {
				t.Helper()
				c.SetReadDeadline(time.Now().Add(hang))
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("no answer: %v", err)
				}
				io.Copy(io.Discard, resp.Body)
				if resp.StatusCode == http.StatusUnauthorized || resp.Close {
					t.Fatalf("answer %s, close %v", resp.Status, resp.Close)
				}
			}
			dial := func() net.Conn {
				t.Helper()
				c, err := net.Dial(l.network, l.addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				return c
			}
			var held []net.Conn
			for range httpguard.MaxConns {
				c := dial()
				answered(c, request(c))
				held = append(held, c)
			}
			extra := dial()
			br := request(extra)
			extra.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			if _, err := br.Peek(1); err == nil {
				t.Fatalf("connection %d was served with a limit of %d", httpguard.MaxConns+1, httpguard.MaxConns)
			}
			held[0].Close()
			answered(extra, br)
			for _, c := range held[1:] {
				c.Close()
			}
			c := dial()
			answered(c, request(c))
		})
	}
	b, _ = os.ReadFile(filepath.Join(dir, "daemon.log"))
	if n := strings.Count(string(b), "connection limit reached"); n < 2 {
		t.Errorf("%d warnings of the connection limit in the daemon log, want one per listener", n)
	}
}
