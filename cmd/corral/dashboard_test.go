package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/corralhq/corral/dashboard"
)

// socketHTTP is an HTTP client of the test daemon's unix socket.
func socketHTTP(td *testDaemon) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", td.client.Socket())
	}}}
}

func do(t *testing.T, hc *http.Client, method, u string, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

var pageToken = regexp.MustCompile(`<meta name="corral-token" content="([0-9a-f]{64})">`)

// TestDashboardOnDaemonSocket: the daemon serves the page at / with its
// CSP, and refuses an action a browser sends without the page's token.
func TestDashboardOnDaemonSocket(t *testing.T) {
	td := startTestDaemon(t, sleepPrograms(1))
	td.waitRunning(t, 1)
	hc := socketHTTP(td)
	resp, page := do(t, hc, "GET", "http://corral/", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != dashboard.CSP {
		t.Fatalf("GET /: %s, CSP %q", resp.Status, resp.Header.Get("Content-Security-Policy"))
	}
	m := pageToken.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no token in the page:\n%s", page)
	}
	browser := map[string]string{"Origin": "http://corral", "Sec-Fetch-Site": "same-origin"}
	if resp, body := do(t, hc, "POST", "http://corral/v1/processes/p00000/stop", browser); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("browser POST without the token: %s %s, want 403", resp.Status, body)
	}
	cross := map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", dashboard.TokenHeader: m[1]}
	if resp, body := do(t, hc, "POST", "http://corral/v1/actions/stop", cross); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST: %s %s, want 403", resp.Status, body)
	}
	if st := statusOf(t, td, "p00000"); st.State != "RUNNING" {
		t.Fatalf("p00000 is %s after refused actions", st.State)
	}
	browser[dashboard.TokenHeader] = m[1]
	if resp, body := do(t, hc, "POST", "http://corral/v1/processes/p00000/stop?wait=true", browser); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST with the token: %s %s", resp.Status, body)
	}
	if st := statusOf(t, td, "p00000"); st.State != "STOPPED" {
		t.Fatalf("p00000 is %s after a stop with the token", st.State)
	}
}

// TestDashboardCommandNeedsToken: `corral dashboard` answers nothing
// outside its token path, refuses other host names (DNS rebinding) and
// cross-site actions, and relays the rest to the daemon.
func TestDashboardCommandNeedsToken(t *testing.T) {
	td := startTestDaemon(t, sleepPrograms(1))
	td.waitRunning(t, 1)
	printed := startDashboardCLI(t, td)
	u, err := url.Parse(printed)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.Trim(u.Path, "/")
	base := "http://" + u.Host
	if len(token) != 64 || !strings.HasPrefix(u.Host, "127.0.0.1:") || u.Path != "/"+token+"/" {
		t.Fatalf("printed URL %q", printed)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	wrong := "/" + strings.Repeat("0", 64) + "/"
	for _, path := range []string{"/", "/v1/processes", "/v1/events", "/assets/app.js", wrong, wrong + "v1/processes", "/" + token[:63] + "/", "/?token=" + token} {
		if resp, body := do(t, hc, "GET", base+path, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s without the token: %s %s, want 403", path, resp.Status, body)
		}
	}
	for _, path := range []string{"/v1/processes/p00000/stop", wrong + "v1/processes/p00000/stop"} {
		if resp, body := do(t, hc, "POST", base+path, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without the token: %s %s, want 403", path, resp.Status, body)
		}
	}
	if resp, _ := do(t, hc, "GET", base+"/"+token, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/"+token+"/" {
		t.Errorf("GET /TOKEN: %s to %q, want 303 to /TOKEN/", resp.Status, resp.Header.Get("Location"))
	}
	resp, page := do(t, hc, "GET", printed, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != dashboard.CSP {
		t.Fatalf("GET %s: %s, CSP %q", printed, resp.Status, resp.Header.Get("Content-Security-Policy"))
	}
	m := pageToken.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no token in the page:\n%s", page)
	}
	if resp, body := do(t, hc, "GET", printed+"v1/processes/p00000", nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"RUNNING"`) {
		t.Errorf("GET the API under the token: %s %s", resp.Status, body)
	}
	if resp, _ := do(t, hc, "GET", printed, map[string]string{"Host": "rebind.example:" + u.Port()}); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("GET with a foreign Host: %s, want 421", resp.Status)
	}
	stop := printed + "v1/processes/p00000/stop"
	refused := []map[string]string{
		// the page's origin and path, but not the page's token
		{"Origin": base, "Sec-Fetch-Site": "same-origin"},
		// another site's page that learnt both tokens
		{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", dashboard.TokenHeader: m[1]},
	}
	for _, h := range refused {
		if resp, body := do(t, hc, "POST", stop, h); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST with %v: %s %s, want 403", h, resp.Status, body)
		}
	}
	if st := statusOf(t, td, "p00000"); st.State != "RUNNING" {
		t.Fatalf("p00000 is %s after refused actions", st.State)
	}
	ok := map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin", dashboard.TokenHeader: m[1]}
	if resp, body := do(t, hc, "POST", stop+"?wait=true", ok); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST from the page: %s %s", resp.Status, body)
	}
	if st := statusOf(t, td, "p00000"); st.State != "STOPPED" {
		t.Fatalf("p00000 is %s after the page stopped it", st.State)
	}
}

func TestDashboardCommandListensOnLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:8080", "example.com:80", "nonsense"} {
		_, err := listenLoopback(addr)
		if err == nil || !isUsageError(err) {
			t.Errorf("--listen %s: %v, want a usage error", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		ln, err := listenLoopback(addr)
		if err != nil {
			t.Errorf("--listen %s: %v", addr, err)
			continue
		}
		ln.Close()
	}
}
