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
