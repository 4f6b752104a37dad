#!/bin/sh
# init-cost.sh: the memory and threads of `corral init` as a container's
# init, against tini and dumb-init, measured in the same run.
#
#   bench/init-cost.sh [-n RUNS] [-s SETTLE_SECONDS] [-b REV]
#
# Run from anywhere in the repository, as root for the PID 1 rows. It builds
# corral and corral-init from the working tree (`go build`, as `go install
# ./cmd/...` does, and again with CGO_ENABLED=0, as a static container
# binary is built), a copy of corral alone (no corral-init beside it: init
# runs in the corral process, as before corral-init existed), and
# bench/cmd/goinit (the smallest Go init with os/signal and os/exec). With
# -b REV it also builds corral and corral-init (CGO_ENABLED=0) at git
# revision REV, in a temporary worktree, as the "before" row of the same run.
# corral-init is also measured run directly (it execs itself once with
# GOMAXPROCS=1, which `corral init` sets for it).
#
# Every init runs one child, `sleep 1000`: as a child of this script, then
# as PID 1 of a new PID namespace (`unshare -fp --mount-proc`). Each is
# started RUNS times (default 5); once its child has exec'd sleep, it settles
# SETTLE seconds (default 1) and the script reads, from /proc of the init
# process: VmRSS, RssAnon (its private memory; the rest of RSS is file pages
# of its binary and libraries, shared through the page cache) and Threads
# from status, Pss from smaps_rollup. It prints the median of each in KiB,
# and RSS and PSS as ratios to tini's median in the same run.
set -eu

runs=5
settle=1
base=""
while getopts n:s:b: opt; do
	case $opt in
	n) runs=$OPTARG ;;
	s) settle=$OPTARG ;;
	b) base=$OPTARG ;;
	*) echo "usage: $0 [-n RUNS] [-s SETTLE] [-b REV]" >&2; exit 2 ;;
	esac
done

tmp=$(mktemp -d)
top=""
cleanup() {
	[ -z "$top" ] || kill -KILL "$top" 2>/dev/null || true
	[ -z "$base" ] || git worktree remove --force "$tmp/basetree" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

cd "$(dirname "$0")/.."
mkdir "$tmp/cgo" "$tmp/static" "$tmp/alone"
go build -o "$tmp/cgo/" ./cmd/corral ./cmd/corral-init
CGO_ENABLED=0 go build -o "$tmp/static/" ./cmd/corral ./cmd/corral-init
cp "$tmp/cgo/corral" "$tmp/alone/corral"
CGO_ENABLED=0 go build -o "$tmp/goinit" ./bench/cmd/goinit
if [ -n "$base" ]; then
	basename=$(git rev-parse --short "$base")
	git worktree add -q --detach "$tmp/basetree" "$base"
	mkdir "$tmp/base"
	(cd "$tmp/basetree" && CGO_ENABLED=0 go build -o "$tmp/base/" ./cmd/corral ./cmd/corral-init)
fi
command -v tini >/dev/null || { echo "tini is needed: apt-get install -y tini" >&2; exit 1; }

# child PID: the first child of process PID, empty while it has none.
child() {
	cat /proc/"$1"/task/*/children 2>/dev/null | awk '{print $1; exit}'
}

# measure MODE CMD...: one run; prints "rss anon pss threads" of the init.
measure() {
	mode=$1
	shift
	if [ "$mode" = ns ]; then
		unshare -fp --mount-proc --kill-child "$@" sleep 1000 2>/dev/null &
	else
		"$@" sleep 1000 2>/dev/null &
	fi
	top=$!
	init=$top
	i=0
	if [ "$mode" = ns ]; then
		# unshare forks the init: it is unshare's child.
		while init=$(child "$top"); [ -z "$init" ]; do
			i=$((i + 1)); [ $i -lt 1000 ] || { echo "no init under unshare" >&2; exit 1; }
			sleep 0.01
		done
	fi
	# Started: the init's child has exec'd sleep (until then it shows its
	# parent's name). corral's init has exec'd corral-init by then.
	i=0
	while :; do
		c=$(child "$init")
		if [ -n "$c" ] && [ "$(cat /proc/"$c"/comm 2>/dev/null)" = sleep ]; then break; fi
		i=$((i + 1)); [ $i -lt 1000 ] || { echo "$*: no sleep child" >&2; exit 1; }
		sleep 0.01
	done
	sleep "$settle"
	rss=$(awk '/^VmRSS:/ {print $2}' /proc/"$init"/status)
	anon=$(awk '/^RssAnon:/ {print $2}' /proc/"$init"/status)
	thr=$(awk '/^Threads:/ {print $2}' /proc/"$init"/status)
	pss=$(awk '/^Pss:/ {print $2}' /proc/"$init"/smaps_rollup)
	kill -KILL "$top" 2>/dev/null || true
	# Outside a namespace the sleep outlives its init: kill it by pid.
	[ "$mode" = ns ] || kill -KILL "$c" 2>/dev/null || true
	wait "$top" 2>/dev/null || true
	top=""
	echo "$rss $anon $pss $thr"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# row MODE NAME CMD...: RUNS runs; prints "NAME rss anon pss threads".
row() {
	mode=$1 name=$2
	shift 2
	: >"$tmp/runs"
	n=0
	while [ $n -lt "$runs" ]; do
		measure "$mode" "$@" >>"$tmp/runs"
		n=$((n + 1))
	done
	printf '%s' "$name"
	for col in 1 2 3 4; do printf ' %s' "$(cut -d' ' -f$col "$tmp/runs" | median)"; done
	echo
}

echo "init cost: $runs runs each, median; settle ${settle}s; Linux $(uname -r), $(nproc) CPUs, $(go version | cut -d' ' -f3)"
echo "tini $(dpkg-query -W -f '${Version}' tini 2>/dev/null || echo '?')," \
	"dumb-init $(dpkg-query -W -f '${Version}' dumb-init 2>/dev/null || echo 'not installed')," \
	"corral $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo '+dirty')"
echo
echo "| where | init | VmRSS KiB | x tini | RssAnon KiB | PSS KiB | x tini | threads |"
echo "|---|---|---|---|---|---|---|---|"
modes="plain"
[ "$(id -u)" = 0 ] && modes="plain ns"
for mode in $modes; do
	{
		row "$mode" tini tini -s --
		if command -v dumb-init >/dev/null; then row "$mode" dumb-init dumb-init; fi
		row "$mode" goinit "$tmp/goinit"
		row "$mode" "corral init, in the corral process (no corral-init)" "$tmp/alone/corral" init --
		row "$mode" "corral init -> corral-init (go build)" "$tmp/cgo/corral" init --
		row "$mode" "corral init -> corral-init (CGO_ENABLED=0)" "$tmp/static/corral" init --
		row "$mode" "corral-init run directly (CGO_ENABLED=0)" "$tmp/static/corral-init" --
		if [ -n "$base" ]; then row "$mode" "before: corral init -> corral-init at $basename (CGO_ENABLED=0)" "$tmp/base/corral" init --; fi
	} >"$tmp/rows"
	where="child of a shell"
	[ "$mode" = plain ] || where="PID 1 (unshare -fp)"
	awk -v where="$where" '
		{ n = NF; name = $1; for (i = 2; i <= n - 4; i++) name = name " " $i
		  rss[NR] = $(n-3); anon[NR] = $(n-2); pss[NR] = $(n-1); thr[NR] = $n; names[NR] = name }
		name == "tini" { trss = $(n-3); tpss = $(n-1) }
		END {
			for (i = 1; i <= NR; i++)
				printf "| %s | %s | %d | %.1f | %d | %d | %.1f | %d |\n", where, names[i], rss[i], rss[i] / trss, anon[i], pss[i], pss[i] / tpss, thr[i]
		}' "$tmp/rows"
done
