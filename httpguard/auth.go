package httpguard

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// CheckPassword reports whether user and pass match wantUser and want, in
// constant time. want is the password in plain text, or "{SHA}" followed by
// the hex SHA-1 of the password (supervisord's form).
func CheckPassword(wantUser, want, user, pass string) bool {
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(wantUser)) == 1
	if hexSum, ok := strings.CutPrefix(want, "{SHA}"); ok {
		sum := sha1.Sum([]byte(pass))
		got := hex.EncodeToString(sum[:])
		return subtle.ConstantTimeCompare([]byte(got), []byte(strings.ToLower(hexSum))) == 1 && userOK
	}
	return subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1 && userOK
}

// Auth is the authentication of one listener.
type Auth struct {
	// Name names the listener in log lines ("socket /run/corral/corral.sock",
	// "tcp 127.0.0.1:9001").
	Name string
	// Username and Password are the credentials every request needs. With
	// Username empty, requests need none.
	Username, Password string
	// Logger receives a WARN line per failed attempt; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Authenticate wraps next so that every request needs a's credentials,
// with failed attempts logged and throttled per client (see the package
// documentation). With a.Username empty it returns next.
func Authenticate(next http.Handler, a Auth) http.Handler {
	if a.Username == "" {
		return next
	}
	return authenticate(next, a, NewLimiter(time.Now), sleep)
}

// authenticate is Authenticate with the limiter and the pause (sleep,
// in tests a recorder) given.
func authenticate(next http.Handler, a Auth, lim *Limiter, pause func(*http.Request, time.Duration) bool) http.Handler {
	log := a.Logger
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := clientKey(r)
		// A client with recent failures waits for its turn before its
		// credentials are even looked at, so parallel guesses queue
		// behind the delay too, and past MaxDelay they are refused.
		wait, ok := lim.Wait(client)
		if !ok {
			log.Debug("attempt refused: too many failures", "listener", a.Name, "remote", client)
			w.Header().Set("Retry-After", strconv.Itoa(int(MaxDelay/time.Second)))
			w.Header().Set("Connection", "close")
			http.Error(w, "too many failed authentications; retry later", http.StatusTooManyRequests)
			return
		}
		if !pause(r, wait) {
			return
		}
		user, pass, ok := r.BasicAuth()
		if ok && CheckPassword(a.Username, a.Password, user, pass) {
			lim.Succeed(client)
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="corral"`)
		// The body was not read; do not keep the connection for it.
		w.Header().Set("Connection", "close")
		if !ok {
			// No credentials is not a guess (clients try without first).
			log.Debug("request without credentials", "listener", a.Name, "remote", client, "path", r.URL.Path)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		n, delay := lim.Fail(client)
		log.Warn("authentication failed", "listener", a.Name, "remote", client, "username", user, "failures", n, "delay", delay)
		if !pause(r, delay) {
			return
		}
		http.Error(w, "wrong username or password", http.StatusUnauthorized)
	})
}

// sleep waits d unless the request ends first; it reports whether the
// request is still wanted.
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
