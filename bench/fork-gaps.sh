#!/bin/sh
# fork-gaps.sh: where corral's spawner thread waits during a start.
#
#   bench/fork-gaps.sh [-n N] [-t MS] CORRAL
#
# Starts the corral binary CORRAL as a daemon with N sleeping programs
# (corralbench's configuration: stdout to an AUTO log file, stderr into
# it, restart always; cgroups off), records the kernel's fork and exec
# events with `perf record -a` until every program runs, stops the daemon
# with SIGTERM (it stops its programs), and prints the time of the first
# and the last fork from the spawner thread (the daemon's main thread),
# from the daemon's exec, and every pause between two of its forks longer
# than MS milliseconds (default 2.5), as #FORK:MS: the fork that ended it
# and the pause. The first pause is the daemon's own start (the runtime's
# threads fork from the main thread before it becomes the spawner).
#
# Needs root and perf (Debian: linux-perf). Everything it makes is in a
# temporary directory, removed at the end; it kills only the daemon it
# started, by pid.
set -eu

n=1000
thr=2.5
while getopts n:t: opt; do
	case $opt in
	n) n=$OPTARG ;;
	t) thr=$OPTARG ;;
	*) echo "usage: $0 [-n N] [-t MS] CORRAL" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "usage: $0 [-n N] [-t MS] CORRAL" >&2; exit 2; }
bin=$(readlink -f "$1")

tmp=$(mktemp -d /tmp/fork-gaps.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/state" "$tmp/logs"
{
	printf '[daemon]\nsocket = "%s/corral.sock"\nstate_dir = "%s/state"\nlog_dir = "%s/logs"\n\n' "$tmp" "$tmp" "$tmp"
	i=0
	while [ $i -lt "$n" ]; do
		printf '[program.p%05d]\ncommand = ["/bin/sleep", "86400"]\nrestart = "always"\nstdout = { file = "AUTO" }\nstderr = { redirect = true }\n\n' $i
		i=$((i + 1))
	done
} >"$tmp/corral.toml"

# The daemon runs under perf's recording; the inner shell waits for N
# programs (children of the daemon), then stops it.
cat >"$tmp/run.sh" <<INNER
#!/bin/sh
CORRAL_NO_CGROUPS=1 "$bin" daemon --config "$tmp/corral.toml" 2>"$tmp/daemon.log" &
pid=\$!
i=0
while [ "\$(pgrep -c -P \$pid || true)" -lt "$n" ] && [ \$i -lt 600 ]; do
	sleep 0.1
	i=\$((i + 1))
done
kill -TERM \$pid
wait \$pid || true
INNER
chmod +x "$tmp/run.sh"
perf record -q -o "$tmp/perf.data" -e sched:sched_process_exec -e sched:sched_process_fork -a -- "$tmp/run.sh" >/dev/null 2>&1
perf script -i "$tmp/perf.data" -F comm,pid,tid,time,event 2>/dev/null >"$tmp/events"

comm=$(basename "$bin" | cut -c1-15)
awk -v C="$comm" -v T="$thr" '
	$1 == C && /sched_process_exec/ && !d { split($2, a, "/"); d = a[1]; t0 = $3; next }
	d && /sched_process_fork/ {
		split($2, a, "/")
		if (a[1] != d || a[2] != d) next
		n++
		if (n == 1) first = $3
		if (n > 1 && ($3 - last) * 1000 > T) { gaps = gaps sprintf(" #%d:%.1f", n, ($3 - last) * 1000); sum += ($3 - last) * 1000 }
		last = $3
	}
	END {
		if (!d) { print "no exec of " C " recorded" > "/dev/stderr"; exit 1 }
		printf "forks %d, first %.1f ms, last %.1f ms after the exec; pauses over %s ms, %.1f ms in all:%s\n", n, (first - t0) * 1000, (last - t0) * 1000, T, sum, gaps
	}' "$tmp/events"
