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

out=$tmp/runs
: >"$out"
echo "# round commit cgroups PSS@1k(KiB) PSS@10k(KiB) marginal(KiB/program) load"
for r in $(seq 1 "$rounds"); do
	for c in "$1" "$2"; do
		for cg in on off; do
			if [ $cg = off ]; then nocg=1; else nocg=; fi
			export CORRAL_NO_CGROUPS=$nocg
			small=$(cd "$tmp/$c" && pss 1000)
			large=$(cd "$tmp/$c" && pss 10000 -idle 2s -settle 2s)
			if [ -z "$small" ] || [ -z "$large" ]; then
				echo "round $r $c cgroups=$cg: no result (1k: '$small', 10k: '$large')" >&2
				continue
			fi
			line="$r $c $cg $small $large $(echo "$small $large" | awk '{printf "%.2f", ($2 - $1) / 9000}') $(cut -d' ' -f1 /proc/loadavg)"
			echo "$line"
			echo "$line" >>"$out"
		done
	done
done

echo
echo "| commit | cgroups | runs | PSS at 1,000 | PSS at 10,000 | marginal per program |"
echo "|---|---|---:|---:|---:|---:|"
for c in "$1" "$2"; do
	for cg in on off; do
		sel=$(awk -v c="$c" -v g="$cg" '$2 == c && $3 == g' "$out")
		runs=$(echo "$sel" | grep -c . || true)
		col() { echo "$sel" | awk -v k="$1" 'NF {print $k}' | median; }
		echo "| $c | $cg | $runs | $(col 4) KiB | $(col 5) KiB | $(col 6) KiB |"
	done
done
