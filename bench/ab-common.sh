# Sourced by the scripts that compare two commits (cgroup-ab.sh, mem-ab.sh).

# ab_prepare NAME BEFORE AFTER copies both commits out of the repository with
# `git archive` into a temporary directory, $tmp (removed when the script
# exits), one directory per commit, where corralbench builds each corral, and
# builds corralbench itself once, from AFTER, as $tmp/corralbench.
ab_prepare() {
	repo=$(git rev-parse --show-toplevel)
	tmp=$(mktemp -d "/tmp/$1.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT INT TERM
	for c in "$2" "$3"; do
		mkdir -p "$tmp/$c"
		git -C "$repo" archive "$c" | tar -x -C "$tmp/$c"
	done
	(cd "$tmp/$3" && go build -o "$tmp/corralbench" ./bench/cmd/corralbench)
}

# median prints the median of the numbers on its standard input, one a line,
# or "-" when there are none.
median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR+1)/2]; else printf "%.2f\n", (v[NR/2]+v[NR/2+1])/2}'; }

# ab_runs ROUNDS BEFORE AFTER MEASURE runs ROUNDS rounds, alternating the
# two commits and cgroups on and off. MEASURE runs in the commit's directory,
# with CORRAL_NO_CGROUPS=1 for "off", and prints the run's figures on one
# line, or nothing (saying why on stderr) when the run gave none. Each result
# is printed and kept in $tmp/runs as "round commit cgroups FIGURES... load".
ab_runs() {
	: >"$tmp/runs"
	for r in $(seq 1 "$1"); do
		for c in "$2" "$3"; do
			for cg in on off; do
				if [ $cg = off ]; then nocg=1; else nocg=; fi
				figs=$(cd "$tmp/$c" && CORRAL_NO_CGROUPS=$nocg "$4")
				if [ -z "$figs" ]; then
					echo "round $r $c cgroups=$cg: no result" >&2
					continue
				fi
				line="$r $c $cg $figs $(cut -d' ' -f1 /proc/loadavg)"
				echo "$line"
				echo "$line" >>"$tmp/runs"
			done
		done
	done
}

# ab_rows BEFORE AFTER ROW calls ROW once for each commit and cgroups setting,
# with $c, $cg, $runs (how many results) and $sel (their lines) set, for col
# and the caller's own columns.
ab_rows() {
	for c in "$1" "$2"; do
		for cg in on off; do
			sel=$(awk -v c="$c" -v g="$cg" '$2 == c && $3 == g' "$tmp/runs")
			runs=$(echo "$sel" | grep -c . || true)
			"$3"
		done
	done
}

# col K prints the median of column K of $sel.
col() { echo "$sel" | awk -v k="$1" 'NF {print $k}' | median; }
