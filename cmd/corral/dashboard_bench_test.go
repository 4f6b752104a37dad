package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// startBenchDaemon is startTestDaemon for benchmarks: a real daemon with
// its own directory, stopped and reaped at cleanup.
func startBenchDaemon(b *testing.B, programs string) *testDaemon {
	b.Helper()
	td := startDaemonOn(b, b.TempDir(), programs)
	deadline := time.Now().Add(hang + time.Duration(countPrograms(programs))*30*time.Millisecond)
	for {
		in, err := td.client.Info(context.Background())
		if err == nil && in.Processes > 0 && in.States["RUNNING"] == in.Processes {
			return td
		}
		if time.Now().After(deadline) {
			b.Fatalf("processes never all RUNNING: %v %v", err, in.States)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func countPrograms(programs string) int {
	n := 0
	for i := 0; i+9 <= len(programs); i++ {
		if programs[i:i+9] == "[program." {
			n++
		}
	}
	return n
}

// BenchmarkDashboard measures the page in headless Chromium against a real
// daemon with 1,000 and 10,000 programs:
//
//   - load-ms: navigation start to the first render of the whole table,
//     against snapshot-fetch-ms: the same page fetching and parsing
//     GET /v1/processes alone (the floor of a load);
//   - apply1000-ms: 1,000 state-change events fed to the page's event
//     handler (the path the stream takes) until the table is rendered,
//     default view (sorted by name) and sorted by state;
//   - stop1000-api-ms / stop1000-page-ms: a stop of 1,000 processes through
//     the API until the API reports them all STOPPED, and until the page's
//     model does (from the events it received).
//
// Run: go test -run '^$' -bench BenchmarkDashboard -benchtime 5x ./cmd/corral/
func BenchmarkDashboard(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("programs=%d", n), func(b *testing.B) {
			td := startBenchDaemon(b, sleepPrograms(n))
			url := startDashboardCLI(b, td)
			br := newBrowser(b, 1280, 900)
			br.run(b, chromedp.Navigate(url))
			br.waitFor(b, hang, fmt.Sprintf("corral.procs.size === %d && corral.stats.readyAt > 0", n), "corral.procs.size")
			// The URL carries the token as its first path segment.
			base := url
			names := make([]string, 1000)
			for i := range names {
				names[i] = fmt.Sprintf("p%05d", i*(n/1000))
			}
			var load, snap, apply, applySorted, stopAPI, stopPage float64
			b.ResetTimer()
			for range b.N {
				br.run(b, chromedp.Navigate(base))
				br.waitFor(b, hang, fmt.Sprintf("window.corral && corral.procs.size === %d && corral.stats.readyAt > 0", n), "corral.procs.size")
				load += evalJS[float64](b, br, "corral.stats.readyAt")
				snap += snapshotFetch(b, br)
				apply += applyEvents(b, br, false)
				applySorted += applyEvents(b, br, true)
				api, page := stopThousand(b, td, br, names)
				stopAPI += api
				stopPage += page
			}
			b.StopTimer()
			N := float64(b.N)
			b.ReportMetric(load/N, "load-ms")
			b.ReportMetric(snap/N, "snapshot-fetch-ms")
			b.ReportMetric(apply/N, "apply1000-ms")
			b.ReportMetric(applySorted/N, "apply1000-sorted-by-state-ms")
			b.ReportMetric(stopAPI/N, "stop1000-api-ms")
			b.ReportMetric(stopPage/N, "stop1000-page-ms")
		})
	}
}

// applyEvents feeds 1,000 events (RUNNING -> STOPPING of 1,000 processes)
// to the page and renders; it returns the milliseconds taken. The model is
// put back by a resync afterwards.
func applyEvents(b *testing.B, br *browser, byState bool) float64 {
	b.Helper()
	js := `(async () => {
	  const byState = %t;
	  if (byState) document.querySelector('[data-sort="state"]').click();
	  await new Promise(r => requestAnimationFrame(() => setTimeout(r)));
	  const names = [...corral.procs.keys()];
	  const step = Math.floor(names.length / 1000);
	  const evs = [];
	  for (let i = 0; i < 1000; i++) evs.push({type: "stopping", name: names[i * step], from: "RUNNING", state: "STOPPING", seq: i});
	  const t0 = performance.now();
	  corral.apply(evs);
	  corral.flush();
	  const ms = performance.now() - t0;
	  if (byState) document.querySelector('[data-sort="name"]').click();
	  corral.apply([{type: "missed", missed: 1}]);
	  return ms;
	})()`
	ctx, cancel := context.WithTimeout(br.ctx, hang)
	defer cancel()
	ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](fmt.Sprintf(js, byState), chromedp.EvalAwaitPromise))
	if err != nil {
		b.Fatal(err)
	}
	br.waitFor(b, hang, `!(corral.counts().STOPPING > 0) && document.querySelector("#conn").dataset.state === "live"`, `corral.counts()`)
	return ms
}

// stopThousand stops the named processes through the API and returns the
// milliseconds until the API, and the page, see them all STOPPED; then it
// starts them again.
func stopThousand(b *testing.B, td *testDaemon, br *browser, names []string) (api, page float64) {
	b.Helper()
	evalJS[bool](b, br, `window.stopWait = new Promise(res => {
	  const want = (corral.counts().STOPPED || 0) + 1000, t0 = performance.now();
	  const check = () => (corral.counts().STOPPED || 0) >= want ? res(performance.now() - t0) : setTimeout(check, 2);
	  check();
	}); true`)
	t0 := time.Now()
	ctx := context.Background()
	if _, err := td.client.Stop(ctx, names, false); err != nil {
		b.Fatal(err)
	}
	for {
		in, err := td.client.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if in.States["STOPPED"] >= len(names) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	api = float64(time.Since(t0).Microseconds()) / 1000
	wctx, cancel := context.WithTimeout(br.ctx, hang)
	defer cancel()
	page, err := chromedp.Run(wctx, chromedp.Evaluate[float64]("window.stopWait", chromedp.EvalAwaitPromise))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := td.client.Start(ctx, names, true); err != nil {
		b.Fatal(err)
	}
	br.waitFor(b, hang, `!(corral.counts().STOPPED > 0) && !(corral.counts().STARTING > 0)`, `corral.counts()`)
	return api, page
}

// snapshotFetch returns the milliseconds the page takes to fetch and parse
// GET /v1/processes.
func snapshotFetch(b *testing.B, br *browser) float64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(br.ctx, hang)
	defer cancel()
	ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(async () => {
	  const t0 = performance.now();
	  await (await fetch("v1/processes")).json(); // relative: the token is the first path segment
	  return performance.now() - t0;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.Fatal(err)
	}
	return ms
}
