package dashboard

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func newTestServer(t *testing.T) (*Dashboard, *httptest.Server) {
	t.Helper()
	d := NewWithToken("tok-123")
	mux := http.NewServeMux()
	mux.Handle("/", d)
	mux.HandleFunc("POST /v1/processes/{name}/stop", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "stopped "+r.PathValue("name"))
	})
	srv := httptest.NewServer(d.Guard(mux))
	t.Cleanup(srv.Close)
	return d, srv
}

func TestPageHasCSPAndToken(t *testing.T) {
	_, srv := newTestServer(t)
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s", resp.Status)
	}
	if got := resp.Header.Get("Content-Security-Policy"); got != CSP {
		t.Errorf("Content-Security-Policy %q, want %q", got, CSP)
	}
	for _, want := range []string{"script-src 'self'", "default-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(CSP, want) {
			t.Errorf("CSP lacks %q", want)
		}
	}
	if strings.Contains(CSP, "unsafe-inline") || strings.Contains(CSP, "unsafe-eval") {
		t.Errorf("CSP allows inline or eval'd script: %s", CSP)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", got)
	}
	if !strings.Contains(string(body), `<meta name="corral-token" content="tok-123">`) {
		t.Errorf("page does not carry the token:\n%s", body)
	}
	// The policy forbids inline script, so the page has none.
	if strings.Contains(string(body), "<script>") || regexp.MustCompile(`\son[a-z]+=`).Match(body) {
		t.Error("page has inline script")
	}
}

func TestAssetsAreEmbeddedAndServedWithCSP(t *testing.T) {
	_, srv := newTestServer(t)
	for path, ctype := range map[string]string{"/assets/app.js": "text/javascript", "/assets/app.css": "text/css"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s: %s %q", path, resp.Status, resp.Header.Get("Content-Type"))
		}
		if resp.Header.Get("Content-Security-Policy") != CSP {
			t.Errorf("GET %s: no CSP", path)
		}
	}
	for _, path := range []string{"/assets/", "/assets/index.html", "/nope", "/assets/nope.js"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", path, resp.Status)
		}
	}
}

// TestGuardRefusesBrowserActionsWithoutToken: a POST that a browser sends
// (Origin or Sec-Fetch-* headers) needs the token and the page's own
// origin; one without those headers (the CLI, supervisorctl) is the
// listener's authentication's business.
func TestGuardRefusesBrowserActionsWithoutToken(t *testing.T) {
	_, srv := newTestServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	cases := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"program without browser headers", nil, http.StatusOK},
		{"same origin with token", map[string]string{"Origin": srv.URL, TokenHeader: "tok-123", "Sec-Fetch-Site": "same-origin"}, http.StatusOK},
		{"same origin without token", map[string]string{"Origin": srv.URL, "Sec-Fetch-Site": "same-origin"}, http.StatusForbidden},
		{"same origin with wrong token", map[string]string{"Origin": srv.URL, TokenHeader: "tok-124"}, http.StatusForbidden},
		{"cross site form post", map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"cross site with a stolen token", map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", TokenHeader: "tok-123"}, http.StatusForbidden},
		{"cross origin by Origin only", map[string]string{"Origin": "http://evil.example", TokenHeader: "tok-123"}, http.StatusForbidden},
		{"same site other port", map[string]string{"Origin": "http://" + host + "0", "Sec-Fetch-Site": "same-site", TokenHeader: "tok-123"}, http.StatusForbidden},
		{"Sec-Fetch-Mode only", map[string]string{"Sec-Fetch-Mode": "no-cors"}, http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/processes/web/stop", nil)
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("POST: %s %s, want %d", resp.Status, body, c.want)
			}
			if c.want == http.StatusOK && string(body) != "stopped web" {
				t.Errorf("body %q", body)
			}
		})
	}
	// Reads are not guarded (the same-origin policy keeps other sites from
	// reading the answers).
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("cross-site GET /: %s", resp.Status)
	}
}

func TestNewMakesDistinctTokens(t *testing.T) {
	a, b := New().Token(), New().Token()
	if len(a) != 64 || a == b {
		t.Errorf("tokens %q and %q", a, b)
	}
}

func TestPageRefusesOtherMethods(t *testing.T) {
	_, srv := newTestServer(t)
	req, _ := http.NewRequest("DELETE", srv.URL+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /: %s", resp.Status)
	}
}
