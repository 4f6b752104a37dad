package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/corralhq/corral/api"
)

// upgradingServer plays a daemon that upgrades while a client follows: its
// first long response ends with the resume trailer, the second is the new
// image's.
type upgradingServer struct {
	mu      sync.Mutex
	queries []string // the logs requests' queries, in order
	events  int      // event streams opened
}

func (s *upgradingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Trailer", api.ResumeTrailer)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case "/v1/processes/web/logs":
		s.queries = append(s.queries, r.URL.RawQuery)
		if len(s.queries) == 1 {
			io.WriteString(w, "0123456789")
			w.Header().Set(api.ResumeTrailer, "10")
			return
		}
		io.WriteString(w, "abc") // the new image's bytes from offset 10
	case "/v1/events":
		s.events++
		if s.events == 1 {
			for seq := 1; seq <= 2; seq++ {
				fmt.Fprintf(w, `{"seq":%d,"type":"running","name":"web"}`+"\n", seq)
			}
			w.Header().Set(api.ResumeTrailer, "2")
			return
		}
		// Events 3 and 4 happened during the exec.
		io.WriteString(w, `{"type":"health","name":"web","health":"healthy"}`+"\n")
		io.WriteString(w, `{"seq":5,"type":"stopping","name":"web"}`+"\n")
	default:
		http.NotFound(w, r)
	}
}

func TestFollowedLogContinuesAcrossAnUpgrade(t *testing.T) {
	srv := &upgradingServer{}
	c := New(serveUnix(t, t.TempDir(), srv))
	defer c.Close()
	body, err := c.Logs(context.Background(), "web", LogOptions{Follow: true, Tail: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	got, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "0123456789abc" {
		t.Errorf("read %q, want the old image's bytes then the new one's", got)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.queries) != 2 || srv.queries[1] != "follow=true&offset=10" {
		t.Errorf("requests %q, want the second from offset 10, following, without tail", srv.queries)
	}
}

func TestEventsContinueAcrossAnUpgradeAndCountWhatWasMissed(t *testing.T) {
	c := New(serveUnix(t, t.TempDir(), &upgradingServer{}))
	defer c.Close()
	evs, err := c.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer evs.Close()
	var got []string
	for {
		ev, _, err := evs.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %d", ev.Seq, ev.Type, ev.Missed))
	}
	want := "[1 running 0 2 running 0 0 health 0 0 missed 2 5 stopping 0]"
	if fmt.Sprint(got) != want {
		t.Errorf("events %v, want %v", got, want)
	}
}
