# Pairs the impl=pontoon and impl=raftboltdb results of bench_test.go and
# prints, per benchmark, the median ns/op of each side, the ratio of the
# medians, the median of the per-round ratios (the k-th Pontoon result
# against the k-th raft-boltdb one, measured back to back) and the ratio of
# each side's fastest round (the least disturbed by other load). Ratios are
# Pontoon / raft-boltdb: below 1 means Pontoon is faster.
#   awk -f benchratio.awk bench.txt
function minimum(list,    a, n, i, m) {
	n = split(list, a, " "); m = a[1]
	for (i = 2; i <= n; i++) if (a[i] + 0 < m + 0) m = a[i]
	return m
}
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
	k = ++cnt[base, impl]
	val[base, impl, k] = ns
	if (!(base in seen)) { seen[base] = 1; order[++nb] = base }
}
END {
	printf "%-38s %4s %14s %14s %9s %9s %9s\n", "benchmark", "runs", "pontoon ns/op", "boltdb ns/op", "ratio", "pair-med", "min-ratio"
	for (k = 1; k <= nb; k++) {
		b = order[k]
		p = median(runs[b, "pontoon"]); h = median(runs[b, "raftboltdb"])
		n = cnt[b, "pontoon"] < cnt[b, "raftboltdb"] ? cnt[b, "pontoon"] : cnt[b, "raftboltdb"]
		pr = ""
		for (i = 1; i <= n; i++) pr = pr " " val[b, "pontoon", i] / val[b, "raftboltdb", i]
		mp = minimum(runs[b, "pontoon"]); mh = minimum(runs[b, "raftboltdb"])
		printf "%-38s %4d %14.0f %14.0f %9.2f %9.2f %9.2f\n", b, n, p, h, (h > 0 ? p / h : 0), median(pr), (mh > 0 ? mp / mh : 0)
	}
}
