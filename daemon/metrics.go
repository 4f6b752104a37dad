package daemon

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sys/unix"

	"github.com/corralhq/corral/monitor"
)

// metrics holds the daemon's Prometheus collectors. Per-process gauges are
// read from a monitor snapshot at scrape time, so nothing is kept per process
// between scrapes except the exit counters.
type metrics struct {
	d        *Daemon
	registry *prometheus.Registry
	exits    *prometheus.CounterVec
	missed   prometheus.Counter
}

var (
	descState    = prometheus.NewDesc("corral_process_state", "Process state as supervisord's number (0 STOPPED, 10 STARTING, 20 RUNNING, 30 BACKOFF, 40 STOPPING, 100 EXITED, 200 FATAL).", []string{"process", "group"}, nil)
	descUp       = prometheus.NewDesc("corral_process_up", "1 when the process is RUNNING.", []string{"process", "group"}, nil)
	descRestarts = prometheus.NewDesc("corral_process_restarts_total", "Automatic restarts of the process.", []string{"process", "group"}, nil)
	descUptime   = prometheus.NewDesc("corral_process_uptime_seconds", "Seconds since the running process was spawned.", []string{"process", "group"}, nil)
	descCPU      = prometheus.NewDesc("corral_process_cpu_seconds_total", "CPU seconds (user+system) of the running process; with cgroups, of every process of its cgroup (cpu.stat) since its first start.", []string{"process", "group"}, nil)
	descMemory   = prometheus.NewDesc("corral_process_memory_bytes", "Memory of every process of the process's cgroup (memory.current), where the memory controller is enabled.", []string{"process", "group"}, nil)
	descLogDrop  = prometheus.NewDesc("corral_log_dropped_bytes_total", "Output bytes lost because a log file could not be written.", []string{"process", "stream"}, nil)
	descLogBytes = prometheus.NewDesc("corral_log_written_bytes_total", "Output bytes stored in log files.", []string{"process", "stream"}, nil)
	descOrphans  = prometheus.NewDesc("corral_orphans_reaped_total", "Exits of processes corral did not start (re-parented orphans) that it reaped.", nil, nil)
	descOverflow = prometheus.NewDesc("corral_subscriber_overflows_total", "Events dropped for slow subscribers (each replaced by a missed-events marker).", nil, nil)
	descGor      = prometheus.NewDesc("corral_daemon_goroutines", "Goroutines of the daemon.", nil, nil)
	descThreads  = prometheus.NewDesc("corral_daemon_threads", "OS threads of the daemon.", nil, nil)
	descProcs    = prometheus.NewDesc("corral_processes", "Supervised processes by state.", []string{"state"}, nil)
	clockTicks   = 100.0 // USER_HZ on Linux
)

func newMetrics(d *Daemon) *metrics {
	m := &metrics{
		d:        d,
		registry: prometheus.NewRegistry(),
		exits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "corral_process_exits_total", Help: "Exits of the process by exit code (or signal name).",
		}, []string{"process", "code"}),
		missed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "corral_daemon_missed_events_total", Help: "Monitor events the daemon's own follower missed and recovered from by re-listing.",
		}),
	}
	// The go_* and process_* families every Go exporter serves: standard
	// dashboards and alerts (open descriptors near the limit, memory) read
	// them.
	m.registry.MustRegister(m.exits, m.missed, m,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{PidFn: collectingThread}))
	return m
}

// collectingThread is the /proc entry the process_* metrics read: the
// thread collecting them. /proc/TID shows the whole process (CPU, memory,
// limits) like /proc/PID, but TID's descriptor table, which is the daemon's:
// the main thread (/proc/PID/fd) may be the spawner thread, whose own table
// holds a handful (monitor.RunSpawner). Collection never runs there.
func collectingThread() (int, error) { return unix.Gettid(), nil }

// Registry returns the registry /metrics serves.
func (d *Daemon) Registry() *prometheus.Registry { return d.metrics.registry }

func (m *metrics) exit(name string, x *monitor.ExitInfo) {
	code := strconv.Itoa(x.Code)
	if x.Signal != 0 {
		code = x.Signal.String()
	}
	m.exits.WithLabelValues(name, code).Inc()
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descUp, descRestarts, descUptime, descCPU, descMemory, descLogDrop, descLogBytes, descOrphans, descOverflow, descGor, descThreads, descProcs, descReady} {
		ch <- d
	}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	sts, err := m.d.Status()
	if err != nil {
		return
	}
	byState := map[string]int{}
	for _, st := range sts {
		byState[st.State]++
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, float64(st.StateCode), st.Name, st.Group)
		up := 0.0
		if st.State == "RUNNING" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, st.Name, st.Group)
		ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, readyValue(st), st.Name, st.Group)
		ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(st.Restarts), st.Name, st.Group)
		if st.Pid != 0 {
			ch <- prometheus.MustNewConstMetric(descUptime, prometheus.GaugeValue, st.Uptime.Seconds(), st.Name, st.Group)
			if m.cgroupUsage(ch, st) {
				continue
			}
			if f := statFields(st.Pid); len(f) > 12 {
				ut, _ := strconv.ParseFloat(f[11], 64)
				stt, _ := strconv.ParseFloat(f[12], 64)
				ch <- prometheus.MustNewConstMetric(descCPU, prometheus.CounterValue, (ut+stt)/clockTicks, st.Name, st.Group)
			}
		}
	}
	for _, s := range []string{"STOPPED", "WAITING", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL"} {
		ch <- prometheus.MustNewConstMetric(descProcs, prometheus.GaugeValue, float64(byState[s]), s)
	}
	m.d.mu.Lock()
	for name, pr := range m.d.procs {
		if pr.stdout != nil {
			st := pr.stdout.Stats()
			ch <- prometheus.MustNewConstMetric(descLogDrop, prometheus.CounterValue, float64(st.Dropped), name, "stdout")
			ch <- prometheus.MustNewConstMetric(descLogBytes, prometheus.CounterValue, float64(st.Written), name, "stdout")
		}
		if pr.stderr != nil {
			st := pr.stderr.Stats()
			ch <- prometheus.MustNewConstMetric(descLogDrop, prometheus.CounterValue, float64(st.Dropped), name, "stderr")
			ch <- prometheus.MustNewConstMetric(descLogBytes, prometheus.CounterValue, float64(st.Written), name, "stderr")
		}
	}
	m.d.mu.Unlock()
	if st, err := m.d.mon.Stats(); err == nil {
		ch <- prometheus.MustNewConstMetric(descOrphans, prometheus.CounterValue, float64(st.OrphansReaped))
		ch <- prometheus.MustNewConstMetric(descOverflow, prometheus.CounterValue, float64(st.SubscriberOverflows))
	}
	ch <- prometheus.MustNewConstMetric(descGor, prometheus.GaugeValue, float64(goroutines()))
	ch <- prometheus.MustNewConstMetric(descThreads, prometheus.GaugeValue, float64(threadCount()))
}
