#!/bin/sh
# mem-ab.sh: the daemon's marginal memory per program, for two commits:
# corralbench's PSS of the corral daemon at 1,000 and at 10,000 programs,
# (PSS@10k - PSS@1k) / 9,000, with cgroups (the default as root) and without
# (CORRAL_NO_CGROUPS=1), alternated run by run for ROUNDS rounds so every
# configuration sees the same machine. Prints one line per run, then the
# median of each configuration.
#
#   bench/mem-ab.sh [-r ROUNDS] BEFORE AFTER
#
# The two sizes run as docs/BENCHMARKS.md gives them:
#   corralbench -n 1000 -only corral
#   corralbench -n 10000 -only corral -idle 2s -settle 2s
# (extra corralbench flags for both in MEMAB_FLAGS). Run from anywhere in
# the repository, as root (cgroups, rlimits; 10,000 programs need a hard
# RLIMIT_NOFILE of about 20,000, which corralbench raises the soft limit
# to). Each commit is copied out with `git archive` into a temporary
# directory (removed at the end), where corralbench builds its corral;
# corralbench itself is built once, from AFTER. Nothing is killed by name:
# corralbench kills and reaps what it started.
set -eu

rounds=2
while getopts r: opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	*) echo "usage: $0 [-r ROUNDS] BEFORE AFTER" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || { echo "usage: $0 [-r ROUNDS] BEFORE AFTER" >&2; exit 2; }

. "$(dirname "$0")/ab-common.sh"
ab_prepare mem-ab "$1" "$2"

# pss N FLAGS...: corral's PSS in KiB at N programs, from corralbench's
# "# corral N=n: start ..., PSS K KiB, ..." line; empty when it has none.
pss() {
	n=$1
	shift
	"$tmp/corralbench" -n "$n" -only corral ${MEMAB_FLAGS:-} "$@" 2>&1 |
		sed -nE "s/^# corral N=$n: .*PSS ([0-9]+) KiB.*/\1/p"
}

# measure: PSS at 1,000 and at 10,000, and the marginal PSS per program.
measure() {
	small=$(pss 1000)
	large=$(pss 10000 -idle 2s -settle 2s)
	if [ -z "$small" ] || [ -z "$large" ]; then
		echo "no result (1k: '$small', 10k: '$large')" >&2
		return
	fi
	echo "$small $large $(echo "$small $large" | awk '{printf "%.2f", ($2 - $1) / 9000}')"
}

echo "# round commit cgroups PSS@1k(KiB) PSS@10k(KiB) marginal(KiB/program) load"
ab_runs "$rounds" "$1" "$2" measure

row() { echo "| $c | $cg | $runs | $(col 4) KiB | $(col 5) KiB | $(col 6) KiB |"; }
echo
echo "| commit | cgroups | runs | PSS at 1,000 | PSS at 10,000 | marginal per program |"
echo "|---|---|---:|---:|---:|---:|"
ab_rows "$1" "$2" row
