#!/bin/sh
# cgroup-ab.sh: corralbench's start and kill-storm recovery at N programs,
# for two commits, each with cgroups (the default as root) and without
# (CORRAL_NO_CGROUPS=1), alternated run by run for ROUNDS rounds so every
# configuration sees the same machine. Prints one line per run, then the
# median of each configuration: spawnloop's and corral's times and their
# ratio (corral / spawnloop, the C loop of the same run).
#
#   bench/cgroup-ab.sh [-n N] [-r ROUNDS] BEFORE AFTER
#
# Run from anywhere in the repository, as root (cgroups, rlimits). Each
# commit is copied out with `git archive` into a temporary directory
# (removed at the end), where corralbench builds its corral; corralbench
# itself is built once, from AFTER. Nothing is killed by name: corralbench
# kills and reaps what it started.
set -eu

n=1000
rounds=5
while getopts n:r: opt; do
	case $opt in
	n) n=$OPTARG ;;
	r) rounds=$OPTARG ;;
	*) echo "usage: $0 [-n N] [-r ROUNDS] BEFORE AFTER" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || { echo "usage: $0 [-n N] [-r ROUNDS] BEFORE AFTER" >&2; exit 2; }

. "$(dirname "$0")/ab-common.sh"
ab_prepare cgroup-ab "$1" "$2"

# measure: spawnloop's and corral's start and recovery, in seconds.
measure() {
	res=$("$tmp/corralbench" -n "$n" -only corral -idle 1s -settle 1s 2>&1 |
		grep -E "^# (spawnloop|corral) N=$n:" || true)
	# "# NAME N=n: start S s, ... recovery R s, ..."
	sl=$(echo "$res" | sed -nE 's/^# spawnloop .*start ([0-9.]+) s.*recovery ([0-9.]+) s.*/\1 \2/p')
	co=$(echo "$res" | sed -nE 's/^# corral .*start ([0-9.]+) s.*recovery ([0-9.]+) s.*/\1 \2/p')
	if [ -z "$sl" ] || [ -z "$co" ]; then
		echo "no result: $res" >&2
		return
	fi
	echo "$(echo $sl | cut -d' ' -f1) $(echo $co | cut -d' ' -f1) $(echo $sl | cut -d' ' -f2) $(echo $co | cut -d' ' -f2)"
}

echo "# round commit cgroups spawnloop-start corral-start spawnloop-recovery corral-recovery load"
ab_runs "$rounds" "$1" "$2" measure

ratio() { echo "$sel" | awk -v a="$1" -v b="$2" 'NF {printf "%.2f\n", $a / $b}' | median; }
row() { echo "| $c | $cg | $runs | $(col 4) s | $(col 5) s | $(ratio 5 4)x | $(col 6) s | $(col 7) s | $(ratio 7 6)x |"; }
echo
echo "| commit | cgroups | runs | spawnloop start | corral start | x | spawnloop recovery | corral recovery | x |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
ab_rows "$1" "$2" row
