// Package dashboard serves corral's web page: a live table of processes,
// actions on them and a log view, all through the JSON API under /v1 (the
// page reads the newline-delimited event stream with fetch, keeps one row
// per process and re-reads a snapshot when the stream reports missed
// events). The page and its assets are embedded in the binary; nothing is
// fetched from elsewhere, and the Content-Security-Policy forbids it.
//
// The package also holds the cross-site request rule of every listener that
// serves the page (see Guard): a browser may change state only with the
// daemon's token, which the page carries, from the page's own origin.
//
// It holds no process state and starts no goroutines.
package dashboard

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed assets
var assets embed.FS

// TokenHeader carries the dashboard token on the page's state-changing
// requests.
const TokenHeader = "X-Corral-Token"

// CSP is the Content-Security-Policy of every response of the dashboard:
// scripts, styles and connections only from the page's own origin, no
// inline script, no frames, no plugins, no form posts elsewhere.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Dashboard serves the page. Create it with New.
type Dashboard struct {
	token  string
	index  []byte
	static http.Handler
}

var indexTemplate = template.Must(template.ParseFS(assets, "assets/index.html"))

// New returns a dashboard with a fresh random token.
func New() *Dashboard {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails on Linux
	return NewWithToken(hex.EncodeToString(b))
}

// NewWithToken returns a dashboard whose page carries token.
func NewWithToken(token string) *Dashboard {
	var buf bytes.Buffer
	if err := indexTemplate.Execute(&buf, struct{ Token string }{token}); err != nil {
		panic("dashboard: index template: " + err.Error()) // embedded, so a build defect
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic("dashboard: " + err.Error())
	}
	return &Dashboard{token: token, index: buf.Bytes(), static: http.FileServerFS(sub)}
}

// Token returns the token the page sends on state-changing requests.
func (d *Dashboard) Token() string { return d.token }

// Mount serves the page at "/" on mux and returns mux behind Guard, so
// every path the mux serves (the API included) follows the same
// cross-site rule.
func Mount(mux *http.ServeMux) http.Handler {
	d := New()
	mux.Handle("/", d)
	return d.Guard(mux)
}

// ServeHTTP serves the page at "/" and its assets under "/assets/"; other
// paths are not found.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case r.URL.Path == "/" || r.URL.Path == "/index.html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(d.index)
	case strings.HasPrefix(r.URL.Path, "/assets/") && r.URL.Path != "/assets/index.html" && !strings.HasSuffix(r.URL.Path, "/"):
		w.Header().Set("Cache-Control", "no-cache")
		http.StripPrefix("/assets", d.static).ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

func setHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// Guard refuses state-changing requests (any method but GET, HEAD and
// OPTIONS) that a browser sends unless they come from the page's own
// origin and carry the token:
//
//   - a request that says it comes from a browser (an Origin or a
//     Sec-Fetch-Site header; every current browser sends one of them on a
//     POST) must carry the token in the X-Corral-Token header, which a page
//     of another site cannot read or set without a CORS preflight that
//     corral never grants;
//   - and it must be same-origin by net/http's CrossOriginProtection
//     (Sec-Fetch-Site, else Origin against Host).
//
// Requests without those headers come from programs (the corral CLI,
// supervisorctl, curl), which a web page cannot make; the listener's own
// authentication decides for them. Refusals are 403 with a text that says
// why.
func (d *Dashboard) Guard(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin request refused: actions are accepted only from the dashboard's own page", http.StatusForbidden)
	}))
	checked := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if !fromBrowser(r) {
			next.ServeHTTP(w, r)
			return
		}
		if !d.validToken(r.Header.Get(TokenHeader)) {
			http.Error(w, "missing or wrong "+TokenHeader+" header: actions from a browser need the dashboard's token (reload the page)", http.StatusForbidden)
			return
		}
		checked.ServeHTTP(w, r)
	})
}

func (d *Dashboard) validToken(t string) bool {
	return t != "" && subtle.ConstantTimeCompare([]byte(t), []byte(d.token)) == 1
}

// fromBrowser reports whether a request carries the headers browsers add
// and scripts of a web page cannot remove.
func fromBrowser(r *http.Request) bool {
	return r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != "" || r.Header.Get("Sec-Fetch-Mode") != ""
}
