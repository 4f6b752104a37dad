#!/bin/sh
# Health probe overhead at 1,000 programs: corral's health.Checker against
# a goroutine per check (Docker's and pebble's model), each sub-benchmark
# in its own process (Go never ends an idle thread, so a process that ran
# one model would carry its threads into the next), alternating, ROUNDS
# times. Prints every run, then the medians and the ratios corral/baseline.
#
#   sh bench/health-probes.sh [ROUNDS] [PROBES]     # defaults 5 and 3000
#   SUMMARIZE=saved-output sh bench/health-probes.sh  # the table of a saved run
set -eu
rounds=${1:-5}
probes=${2:-3000}
bin=$(mktemp -d)/health.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
out=$(dirname "$bin")/runs
if [ -n "${SUMMARIZE:-}" ]; then # SUMMARIZE=saved-output: only the table
	grep '^BenchmarkProbes' "$SUMMARIZE" > "$out"
	rounds=0
else
	go test -c -o "$bin" ./health/
	: > "$out"
fi
for r in $(seq "$rounds"); do
	for kind in tcp http exec exec-slow; do
		for model in corral goroutine-per-check; do
			"$bin" -test.run '^$' -test.bench "^BenchmarkProbes\$/^$model\$/^$kind\$" -test.benchtime "${probes}x" |
				grep '^BenchmarkProbes' | tee -a "$out"
		done
	done
done
echo
echo "| probe | model | cpu-ms / 1k probes | peak goroutines | peak threads | failed probes (all runs) |"
echo "|---|---|---|---|---|---|"
awk '
{
	split($1, p, "/"); model = p[2]; kind = p[3]; sub(/-[0-9]+$/, "", kind)
	k = kind "\t" model
	n[k]++
	for (i = 3; i <= NF; i++) {
		if ($i == "cpu-ms/1k-probes") cpu[k, n[k]] = $(i - 1)
		if ($i == "peak-goroutines") gor[k, n[k]] = $(i - 1)
		if ($i == "peak-threads") thr[k, n[k]] = $(i - 1)
		if ($i == "failed-probes") fail[k] += $(i - 1)
	}
	if (!(kind in seen)) { seen[kind] = 1; order[++nk] = kind }
}
function median(arr, k, cnt,   i, j, t, v) {
	for (i = 1; i <= cnt; i++) v[i] = arr[k, i] + 0
	for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	return (cnt % 2) ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
}
END {
	for (o = 1; o <= nk; o++) {
		kind = order[o]
		c = kind "\tcorral"; g = kind "\tgoroutine-per-check"
		mc = median(cpu, c, n[c]); mg = median(cpu, g, n[g])
		gc = median(gor, c, n[c]); gg = median(gor, g, n[g])
		tc = median(thr, c, n[c]); tg = median(thr, g, n[g])
		printf "| %s | goroutine per check | %.0f | %d | %d | %d |\n", kind, mg, gg, tg, fail[g]
		printf "| %s | corral | %.0f (%.2fx) | %d (%.3fx) | %d (%.2fx) | %d |\n", kind, mc, mc / mg, gc, gc / gg, tc, tc / tg, fail[c]
	}
}' "$out"
