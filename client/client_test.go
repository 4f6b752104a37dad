package client

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serveUnix serves h on a unix socket in dir and returns its path.
func serveUnix(t *testing.T, dir string, h http.Handler) string {
	t.Helper()
	sock := filepath.Join(dir, "corral.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return sock
}

func TestCredentialsAreSentAndRefusalsAreClear(t *testing.T) {
	sock := serveUnix(t, t.TempDir(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="corral"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"pid": 1}`))
	}))
	for _, tt := range []struct {
		opts []Option
		want string // "" for success
	}{
		{nil, "authentication required: the daemon at " + sock + " needs a username and password"},
		{[]Option{WithBasicAuth("admin", "nope")}, "wrong username or password for the daemon at " + sock},
		{[]Option{WithBasicAuth("admin", "s3cret")}, ""},
	} {
		c := New(sock, tt.opts...)
		_, err := c.Info(context.Background())
		c.Close()
		if tt.want == "" {
			if err != nil {
				t.Errorf("with the right credentials: %v", err)
			}
			continue
		}
		if err == nil || err.Error() != tt.want || !Unauthorized(err) {
			t.Errorf("error %v (Unauthorized %v), want %q", err, Unauthorized(err), tt.want)
		}
	}
}

func TestSocketInADirectoryOthersMayWriteIsNotDialed(t *testing.T) {
	dir := t.TempDir()
	var served bool
	sock := serveUnix(t, dir, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true }))
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	c := New(sock)
	defer c.Close()
	_, err := c.Info(context.Background())
	if err == nil || served {
		t.Fatalf("dialed a socket in a 0777 directory (err %v)", err)
	}
	for _, want := range []string{"cannot reach daemon at " + sock, "socket directory " + dir, "mode 0777", "another user could replace the socket"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
