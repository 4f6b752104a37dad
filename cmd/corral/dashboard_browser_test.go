package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/corralhq/corral/daemon"
)

// startDashboardCLI runs `corral dashboard` on the test daemon's socket and
// returns the URL it printed (with its token).
func startDashboardCLI(t testing.TB, td *testDaemon) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "dashboard", "--socket", td.client.Socket())
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "WORK="+td.dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u := regexp.MustCompile(`http://\S+`).FindString(sc.Text()); u != "" {
				urls <- u
			}
		}
		close(urls)
	}()
	select {
	case u, ok := <-urls:
		if !ok {
			t.Fatal("corral dashboard printed no URL")
		}
		return u
	case <-time.After(hang):
		t.Fatal("corral dashboard printed no URL in time")
	}
	return ""
}

// browser is a headless Chromium driven by chromedp.
type browser struct {
	ctx     context.Context
	dialogs atomic.Int32 // alert, confirm or prompt dialogs opened
}

// newBrowser starts Debian's chromium (required: the test fails without it).
// Cleanup ends it and checks that none of its processes is left: they all
// carry WORK=dir in their environment.
func newBrowser(t testing.TB, width, height int) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the dashboard's browser tests need chromium (Debian package chromium): %v", err)
	}
	dir := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Env("WORK="+dir),
		// Its singleton directory (org.chromium.Chromium.*) goes in the
		// test's directory, not in /tmp where a killed browser leaves it.
		chromedp.Env("TMPDIR="+dir),
		chromedp.WindowSize(width, height),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{ctx: ctx}
	t.Cleanup(func() {
		cancel()
		acancel() // waits for the browser process
		// Its helpers (zygote, renderers) end when they see it gone.
		for deadline := time.Now().Add(10 * time.Second); len(scriptProcs(dir)) > 0 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if left := reapScript(dir); len(left) > 0 {
			t.Errorf("chromium processes left after the browser was closed: %d, e.g. %v", len(left), left[0])
		}
	})
	// Listen starts the browser and opens the tab.
	err = chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			b.dialogs.Add(1)
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

func (b *browser) run(t testing.TB, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, hang)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// evalJS evaluates a JavaScript expression in b's page and returns its value.
func evalJS[T any](t testing.TB, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, hang)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a boolean JavaScript expression until it is true or the
// time is up, and fails the test with what describe returns then.
func (b *browser) waitFor(t testing.TB, within time.Duration, expr, describe string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if evalJS[bool](t, b, "!!("+expr+")") {
			return
		}
		if time.Now().After(deadline) {
			got := evalJS[any](t, b, describe)
			t.Fatalf("after %v, still not %s; %v", within, expr, got)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// screenshot writes the page as dir/name.png when $CORRAL_SCREENSHOTS names
// a directory (docs/img for the documentation's pictures).
func (b *browser) screenshot(t testing.TB, name string) {
	t.Helper()
	dir := os.Getenv("CORRAL_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, hang)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func rowSel(name, rest string) string {
	return fmt.Sprintf(`#rows .row[data-name=%q] %s`, name, rest)
}

// rowState is the JS expression of the state shown in name's row.
func rowState(name string) string {
	return fmt.Sprintf(`(document.querySelector(%q)||{}).textContent`, rowSel(name, `[data-col="state"]`))
}

func statusOf(t testing.TB, td *testDaemon, name string) daemon.ProcessStatus {
	t.Helper()
	out, err := runCLI(td, "status", "--json", name)
	if err != nil && !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("corral status %s: %v", name, err)
	}
	var sts []daemon.ProcessStatus
	if err := json.Unmarshal(out, &sts); err != nil || len(sts) != 1 {
		t.Fatalf("corral status --json %s: %v %s", name, err, out)
	}
	return sts[0]
}

const xssLine = `<img src=x onerror=alert(1)>`

// TestDashboardInBrowser drives the page served by `corral dashboard` in
// headless Chromium against a real daemon: the table lists the configured
// processes; a stop from the page stops the process (as corral status
// sees it) and changes its row without a reload; a process killed from
// outside changes its row within a second; the log view shows lines as
// they are written; markup in a program's output is shown as text and runs
// nothing.
func TestDashboardInBrowser(t *testing.T) {
	td := startTestDaemon(t, `
[program.web]
command = "sleep 100000"
start_secs = "0s"

[program.victim]
command = "sleep 100000"
start_secs = "0s"
restart = "no"

[program.xss]
command = "sh -c 'echo \"`+xssLine+`\"; exec sleep 100000'"
start_secs = "0s"

[program.tailer]
command = "sh -c 'exec tail -n +1 -F \"$WORK/input\"'"
start_secs = "0s"

[program.binary]
command = "sh -c 'printf \"bin\\377\\376ary\\n\"; exec sleep 100000'"
start_secs = "0s"
`)
	if err := os.WriteFile(filepath.Join(td.dir, "input"), []byte("first line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	td.waitRunning(t, 5)
	url := startDashboardCLI(t, td)
	b := newBrowser(t, 1280, 720)
	b.run(t, chromedp.Navigate(url))

	const names = `[...document.querySelectorAll("#rows .row:not([hidden])")].map(r => r.dataset.name + "=" + r.dataset.state).sort().join(" ")`
	t.Run("TableListsConfiguredProcesses", func(t *testing.T) {
		b.waitFor(t, hang, names+` === "binary=RUNNING tailer=RUNNING victim=RUNNING web=RUNNING xss=RUNNING"`, names)
		if href := evalJS[string](t, b, "location.href"); href != url {
			t.Errorf("the page is at %s, want %s", href, url)
		}
	})
	// A reload would drop this mark.
	evalJS[bool](t, b, "window.notReloaded = true")
	b.screenshot(t, "dashboard-table")

	t.Run("StopFromPage", func(t *testing.T) {
		b.run(t, chromedp.Click(chromedp.CSS(rowSel("web", `button[data-act="stop"]`))))
		b.waitFor(t, hang, rowState("web")+` === "STOPPED"`, rowState("web"))
		if st := statusOf(t, td, "web"); st.State != "STOPPED" {
			t.Errorf("corral status web: %s, want STOPPED", st.State)
		}
		b.waitFor(t, hang, `document.querySelector("#outcomes .ok") && document.querySelector("#outcomes .ok").textContent.includes("stop web: ok")`,
			`document.querySelector("#outcomes").textContent`)
		if !evalJS[bool](t, b, "window.notReloaded === true") {
			t.Error("the page reloaded")
		}
	})

	t.Run("KillFromOutsideWithinASecond", func(t *testing.T) {
		st := statusOf(t, td, "victim")
		if st.Pid == 0 {
			t.Fatalf("victim has no pid: %+v", st)
		}
		b.waitFor(t, hang, fmt.Sprintf(`(document.querySelector(%q)||{}).textContent === "%d"`, rowSel("victim", `[data-col="pid"]`), st.Pid), rowState("victim"))
		if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		b.waitFor(t, time.Second, rowState("victim")+` === "EXITED" && `+
			fmt.Sprintf(`document.querySelector(%q).textContent.startsWith("SIGKILL")`, rowSel("victim", `[data-col="exit"]`)),
			`document.querySelector(`+fmt.Sprintf("%q", rowSel("victim", ""))+`).textContent`)
	})

	t.Run("LogViewFollows", func(t *testing.T) {
		b.run(t, chromedp.Click(chromedp.CSS(rowSel("tailer", `button[data-act="log"]`))))
		logText := `document.querySelector("#log-text").textContent`
		b.waitFor(t, hang, logText+`.includes("first line")`, logText)
		for i := range 3 {
			line := fmt.Sprintf("fresh line %d %d", i, time.Now().UnixNano())
			f, err := os.OpenFile(filepath.Join(td.dir, "input"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(f, line)
			f.Close()
			b.waitFor(t, hang, logText+fmt.Sprintf(`.includes(%q)`, line), logText)
		}
		if follow := evalJS[string](t, b, `document.querySelector("#log-status").textContent`); follow != "following" {
			t.Errorf("log status %q, want following", follow)
		}
		b.screenshot(t, "dashboard-log")
	})

	t.Run("LogPauseAndSearch", func(t *testing.T) {
		logText := `document.querySelector("#log-text").textContent`
		appendLine := func(line string) {
			f, err := os.OpenFile(filepath.Join(td.dir, "input"), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(f, line)
			f.Close()
		}
		b.run(t, chromedp.Click(chromedp.ID("log-follow")))
		appendLine("written while paused")
		// The line reaches the page but is held back while paused.
		b.waitFor(t, hang, `corral.log.pending.includes("written while paused")`, `corral.log.pending`)
		if strings.Contains(evalJS[string](t, b, logText), "written while paused") {
			t.Error("a paused log view showed a new line")
		}
		b.run(t, chromedp.Click(chromedp.ID("log-follow")))
		b.waitFor(t, hang, logText+`.includes("written while paused")`, logText)
		b.run(t, chromedp.SendKeys(chromedp.ID("log-search"), "fresh line"))
		b.waitFor(t, hang, `document.querySelectorAll("#log-text mark").length === 3 && !(`+logText+`).includes("first line")`, logText)
		if got := evalJS[string](t, b, `document.querySelector("#log-matches").textContent`); got != "3 matching lines" {
			t.Errorf("matches: %q", got)
		}
		// The download link names the log of the process.
		if got := evalJS[string](t, b, `document.querySelector("#log-download").getAttribute("href")`); got != "v1/processes/tailer/logs?stream=stdout" {
			t.Errorf("download link %q", got)
		}
		evalJS[bool](t, b, `(s => { s.value = ""; s.dispatchEvent(new Event("input")); return true })(document.querySelector("#log-search"))`)
		b.waitFor(t, hang, logText+`.includes("first line")`, logText)
	})

	t.Run("BinaryOutputIsShownSafely", func(t *testing.T) {
		b.run(t, chromedp.Click(chromedp.CSS(rowSel("binary", `button[data-act="log"]`))))
		logText := `document.querySelector("#log-text").textContent`
		b.waitFor(t, hang, logText+`.includes("bin\uFFFD\uFFFDary")`, logText)
	})

	t.Run("MarkupInOutputIsText", func(t *testing.T) {
		b.run(t, chromedp.Click(chromedp.CSS(rowSel("xss", `button[data-act="log"]`))))
		logText := `document.querySelector("#log-text").textContent`
		b.waitFor(t, hang, logText+fmt.Sprintf(`.includes(%q)`, xssLine), logText)
		if imgs := evalJS[int](t, b, `document.querySelectorAll("img").length`); imgs != 0 {
			t.Errorf("the page has %d img elements; the program's output became markup", imgs)
		}
		// An alert would have opened by now; wait a little longer anyway.
		time.Sleep(200 * time.Millisecond)
		if n := b.dialogs.Load(); n != 0 {
			t.Errorf("%d JavaScript dialogs opened", n)
		}
	})

	t.Run("FailedActionShowsError", func(t *testing.T) {
		b.run(t, chromedp.Click(chromedp.CSS(rowSel("xss", `button[data-act="start"]`))))
		fail := `(document.querySelector("#outcomes .fail")||{}).textContent`
		b.waitFor(t, hang, fail+` && `+fail+`.includes("start xss") && `+fail+`.includes("already")`, `document.querySelector("#outcomes").textContent`)
	})

	t.Run("SelectionActions", func(t *testing.T) {
		// web is STOPPED and victim EXITED by now.
		b.run(t,
			chromedp.Click(chromedp.CSS(rowSel("web", `input[type="checkbox"]`))),
			chromedp.Click(chromedp.CSS(rowSel("victim", `input[type="checkbox"]`))),
		)
		b.waitFor(t, hang, `document.querySelector("#selected-count").textContent === "2 selected"`, `document.querySelector("#selected-count").textContent`)
		b.run(t, chromedp.Click(chromedp.CSS(`button[data-bulk="start"]`)))
		b.waitFor(t, hang, rowState("web")+` === "RUNNING" && `+rowState("victim")+` === "RUNNING"`, names)
		for _, name := range []string{"web", "victim"} {
			if st := statusOf(t, td, name); st.State != "RUNNING" && st.State != "STARTING" {
				t.Errorf("corral status %s: %s after a start of the selection", name, st.State)
			}
		}
		b.waitFor(t, hang, `document.querySelector("#outcomes .ok").textContent.includes("start 2 processes: ok")`, `document.querySelector("#outcomes").textContent`)
	})

	t.Run("ResyncOnMissedEvents", func(t *testing.T) {
		// Make the page's model wrong, then tell it events were missed: it
		// must re-read the processes and show the truth.
		before := evalJS[int](t, b, "corral.stats.snapshots")
		evalJS[bool](t, b, `corral.procs.get("xss").state = "FATAL"; corral.procs.delete("tailer"); corral.apply([{type: "missed", missed: 7}]); true`)
		b.waitFor(t, hang, fmt.Sprintf(`corral.stats.snapshots > %d && `, before)+names+` === "binary=RUNNING tailer=RUNNING victim=RUNNING web=RUNNING xss=RUNNING"`, names)
	})

	t.Run("AddAndRemoveProgram", func(t *testing.T) {
		b.run(t,
			chromedp.Click(chromedp.ID("add-open")),
			chromedp.SendKeys(chromedp.CSS(`#add-form input[name="name"]`), "added"),
			chromedp.SendKeys(chromedp.CSS(`#add-form input[name="command"]`), "sleep 100000"),
			chromedp.Click(chromedp.ID("add-submit")),
		)
		b.waitFor(t, hang, rowState("added")+` === "RUNNING"`, names)
		if st := statusOf(t, td, "added"); st.State != "RUNNING" {
			t.Errorf("corral status added: %s", st.State)
		}
		// The confirmation is answered yes.
		evalJS[bool](t, b, `window.confirm = () => true; true`)
		b.run(t, chromedp.Click(chromedp.CSS(rowSel("added", `button[data-act="remove"]`))))
		b.waitFor(t, hang, `!document.querySelector(`+fmt.Sprintf("%q", rowSel("added", ""))+`)`, names)
		if _, err := td.client.Status(context.Background(), "added"); err == nil {
			t.Error("the daemon still has program added")
		}
		// A refused program shows the daemon's error in the form.
		b.run(t,
			chromedp.Click(chromedp.ID("add-open")),
			chromedp.SendKeys(chromedp.CSS(`#add-form input[name="name"]`), "web"),
			chromedp.SendKeys(chromedp.CSS(`#add-form input[name="command"]`), "sleep 1"),
			chromedp.Click(chromedp.ID("add-submit")),
		)
		b.waitFor(t, hang, `document.querySelector("#add-error").textContent.includes("web")`, `document.querySelector("#add-error").textContent`)
	})
}

// TestDashboardThousandPrograms shows 1,000 programs: the counts say 1,000
// RUNNING, only the rows in view exist in the DOM, and the name filter
// narrows the table.
func TestDashboardThousandPrograms(t *testing.T) {
	const n = 1000
	td := startTestDaemon(t, sleepPrograms(n))
	td.waitRunning(t, n)
	url := startDashboardCLI(t, td)
	b := newBrowser(t, 1280, 900)
	b.run(t, chromedp.Navigate(url))
	counts := `document.querySelector("#counts").textContent`
	b.waitFor(t, hang, counts+` === "all 1000RUNNING 1000"`, counts)
	if rendered := evalJS[int](t, b, "corral.rendered()"); rendered == 0 || rendered > 100 {
		t.Errorf("%d rows in the DOM for %d processes; want the visible ones only", rendered, n)
	}
	// A few changes, seen without a reload: three stopped, one killed and
	// restarted (its restart counter comes from the API).
	if _, err := td.client.Stop(context.Background(), []string{"p00001", "p00002", "p00003"}, true); err != nil {
		t.Fatal(err)
	}
	st := statusOf(t, td, "p00005")
	if err := syscall.Kill(st.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, hang, counts+` === "all 1000RUNNING 997STOPPED 3"`, counts)
	restarts := fmt.Sprintf(`document.querySelector(%q).textContent`, rowSel("p00005", `[data-col="restarts"]`))
	b.waitFor(t, hang, restarts+` === "1"`, restarts)
	b.screenshot(t, "dashboard-1000")
	b.run(t, chromedp.SendKeys(chromedp.ID("search"), "p0099"))
	shown := `[...document.querySelectorAll("#rows .row:not([hidden])")].map(r => r.dataset.name).join(" ")`
	b.waitFor(t, hang, shown+` === "p00990 p00991 p00992 p00993 p00994 p00995 p00996 p00997 p00998 p00999"`, shown)
}

// TestDashboardFilterSortSignal: the group filter and the per-state counts
// narrow the table, a column header sorts it both ways, and a signal sent
// from the page reaches the process.
func TestDashboardFilterSortSignal(t *testing.T) {
	td := startTestDaemon(t, `
[program.web]
command = "sleep 100000"
start_secs = "0s"
numprocs = 2
process_name = "web%(process_num)d"

[program.db]
command = "sleep 100000"
start_secs = "0s"

[program.cache]
command = "sleep 100000"
start_secs = "0s"

[program.idle]
command = "sleep 100000"
autostart = false

[group.back]
programs = ["db", "cache"]
`)
	// idle stays STOPPED.
	for deadline := time.Now().Add(hang); ; time.Sleep(50 * time.Millisecond) {
		in, err := td.client.Info(context.Background())
		if err == nil && in.States["RUNNING"] == 4 && in.States["STOPPED"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes never settled: %v %+v", err, in.States)
		}
	}
	sts, err := td.client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var all, back []string
	for _, st := range sts {
		all = append(all, st.Name)
		if st.Group == "back" {
			back = append(back, st.Name)
		}
	}
	if len(all) != 5 || len(back) != 2 {
		t.Fatalf("processes %v, group back %v", all, back)
	}
	slices.Sort(all)
	slices.Sort(back)
	url := startDashboardCLI(t, td)
	b := newBrowser(t, 1280, 720)
	b.run(t, chromedp.Navigate(url))
	const shown = `[...document.querySelectorAll("#rows .row:not([hidden])")].map(r => r.dataset.name).join(" ")`
	sorted := shown + `.split(" ").sort().join(" ")`
	b.waitFor(t, hang, sorted+fmt.Sprintf(" === %q", strings.Join(all, " ")), shown)

	t.Run("GroupFilter", func(t *testing.T) {
		b.waitFor(t, hang, `[...document.querySelector("#group-filter").options].some(o => o.value === "back")`, `document.querySelector("#group-filter").innerHTML`)
		evalJS[bool](t, b, `(s => { s.value = "back"; s.dispatchEvent(new Event("change")); return true })(document.querySelector("#group-filter"))`)
		b.waitFor(t, hang, sorted+fmt.Sprintf(" === %q", strings.Join(back, " ")), shown)
		evalJS[bool](t, b, `(s => { s.value = ""; s.dispatchEvent(new Event("change")); return true })(document.querySelector("#group-filter"))`)
		b.waitFor(t, hang, sorted+fmt.Sprintf(" === %q", strings.Join(all, " ")), shown)
	})

	t.Run("StateCounts", func(t *testing.T) {
		counts := `document.querySelector("#counts").textContent`
		b.waitFor(t, hang, counts+` === "all 5RUNNING 4STOPPED 1"`, counts)
		b.run(t, chromedp.Click(chromedp.CSS(`#counts button[data-state="STOPPED"]`)))
		b.waitFor(t, hang, shown+` === "idle"`, shown)
		b.run(t, chromedp.Click(chromedp.CSS(`#counts button[data-state=""]`)))
		b.waitFor(t, hang, sorted+fmt.Sprintf(" === %q", strings.Join(all, " ")), shown)
	})

	t.Run("SortByPid", func(t *testing.T) {
		pids := `[...document.querySelectorAll("#rows .row:not([hidden]) [data-col=pid]")].map(c => Number(c.textContent || 0))`
		b.run(t, chromedp.Click(chromedp.CSS(`[data-sort="pid"]`)))
		b.waitFor(t, hang, `(p => p.length === 5 && p.every((x, i) => i === 0 || p[i-1] <= x))(`+pids+`)`, pids)
		b.run(t, chromedp.Click(chromedp.CSS(`[data-sort="pid"]`)))
		b.waitFor(t, hang, `(p => p.length === 5 && p.every((x, i) => i === 0 || p[i-1] >= x))(`+pids+`)`, pids)
		if got := evalJS[string](t, b, `document.querySelector('[data-sort="pid"]').getAttribute("aria-sort")`); got != "descending" {
			t.Errorf("aria-sort %q after two clicks", got)
		}
	})

	t.Run("SignalFromPage", func(t *testing.T) {
		st := statusOf(t, td, back[0])
		// The rows are reused as the table renders; a click that landed
		// while its row was being redrawn is made again, and the Signal
		// button is pressed only once the page counts the selection.
		box := fmt.Sprintf(`(document.querySelector(%q)||{}).checked === true`, rowSel(back[0], `input[type="checkbox"]`))
		for try := 0; try < 5 && !evalJS[bool](t, b, box); try++ {
			b.run(t, chromedp.Click(chromedp.CSS(rowSel(back[0], `input[type="checkbox"]`))))
		}
		count := `document.querySelector("#selected-count").textContent`
		b.waitFor(t, hang, count+` === "1 selected"`, count)
		evalJS[bool](t, b, `(s => { s.value = "USR1"; return true })(document.querySelector("#signal"))`)
		b.run(t, chromedp.Click(chromedp.CSS(`button[data-bulk="signal"]`)))
		exit := fmt.Sprintf(`(document.querySelector(%q)||{}).textContent`, rowSel(back[0], `[data-col="exit"]`))
		b.waitFor(t, hang, exit+` && `+exit+`.startsWith("SIGUSR1")`, exit)
		after := statusOf(t, td, back[0])
		if after.LastExit == nil || after.LastExit.Pid != st.Pid || after.LastExit.Signal == "" {
			t.Errorf("last exit of %s: %+v, want pid %d killed by USR1", back[0], after.LastExit, st.Pid)
		}
		b.waitFor(t, hang, `document.querySelector("#outcomes .ok") && document.querySelector("#outcomes .ok").textContent.includes("signal USR1 `+back[0]+`: ok")`,
			`document.querySelector("#outcomes").textContent`)
	})
}

// TestDashboardReconnectsAfterDaemonRestart: when the daemon goes away the
// page says so, and when a daemon answers on the socket again the page
// reconnects by itself and shows the new processes.
func TestDashboardReconnectsAfterDaemonRestart(t *testing.T) {
	td := startTestDaemon(t, sleepPrograms(2))
	td.waitRunning(t, 2)
	url := startDashboardCLI(t, td)
	b := newBrowser(t, 1280, 720)
	b.run(t, chromedp.Navigate(url))
	conn := `document.querySelector("#conn").dataset.state`
	b.waitFor(t, hang, conn+` === "live" && corral.procs.size === 2`, conn)
	old := statusOf(t, td, "p00000").Pid

	// The first daemon's own cleanup reaps it.
	if err := td.client.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, hang, conn+` === "down"`, conn)
	// The page is down as soon as the daemon starts its shutdown, but the
	// daemon listens until its programs have stopped, and a second one
	// refuses a socket that still answers.
	sock := filepath.Join(td.dir, "corral.sock")
	waitFor(t, "the first daemon to close its socket", func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err != nil
	})

	// The first daemon's cleanup, which runs last, reaps what is left.
	startDaemonCmd(t, td.dir, filepath.Join(td.dir, "corral.toml"), nil)
	td.waitRunning(t, 2)
	pid := statusOf(t, td, "p00000").Pid
	if pid == old {
		t.Fatalf("p00000 kept pid %d across the daemon restart", pid)
	}
	pidCell := fmt.Sprintf(`(document.querySelector(%q)||{}).textContent`, rowSel("p00000", `[data-col="pid"]`))
	b.waitFor(t, hang, conn+` === "live" && `+pidCell+fmt.Sprintf(` === "%d"`, pid), conn+` + " " + `+pidCell)
}
