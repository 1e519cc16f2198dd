# Pairs the impl=pontoon and impl=raftboltdb results of bench_test.go and
# prints the median ns/op of each and their ratio (Pontoon / raft-boltdb:
# below 1 means Pontoon is faster).
#   awk -f benchratio.awk bench.txt
function median(list,    a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
/^Benchmark/ && /impl=/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	impl = name; sub(/.*impl=/, "", impl)
	base = name; sub(/\/impl=.*/, "", base)
	for (i = 3; i <= NF; i++) if ($(i + 1) == "ns/op") ns = $i
	runs[base, impl] = runs[base, impl] " " ns
	cnt[base, impl]++
	if (!(base in seen)) { seen[base] = 1; order[++nb] = base }
}
END {
	printf "%-36s %6s %14s %14s %8s\n", "benchmark", "runs", "pontoon ns/op", "boltdb ns/op", "ratio"
	for (k = 1; k <= nb; k++) {
		b = order[k]
		p = median(runs[b, "pontoon"]); h = median(runs[b, "raftboltdb"])
		printf "%-36s %6d %14.0f %14.0f %8.2f\n", b, cnt[b, "pontoon"], p, h, (h > 0 ? p / h : 0)
	}
}
