#!/bin/bash
# Per-op syscall, context-switch and CPU counts of each node process in -procs
# mode (leader, node2, node3), from `perf stat` over 3 s in the middle of one
# 8 s cell. Needs perf with syscall tracepoints (run as root).
#
#   go build -o /tmp/bench . && ./syscalls.sh /tmp/bench 16 64
#
# Usage: syscalls.sh BENCH_BINARY SIZE CLIENTS
set -euo pipefail
BIN=$1 SIZE=$2 C=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$BIN" -procs -engines pontoon -clients "$C" -sizes "$SIZE" -readers '' -duration 8s -warmup 1s >"$T/out" 2>&1 &
BP=$!
sleep 5 # start-up, election, warm-up, 2 s into the cell
KIDS=$(pgrep -P "$BP" | tr '\n' ' ')
EV=syscalls:sys_enter_fdatasync,syscalls:sys_enter_write,syscalls:sys_enter_pwrite64,syscalls:sys_enter_read
EV=$EV,syscalls:sys_enter_futex,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_nanosleep,raw_syscalls:sys_enter
EV=$EV,context-switches,task-clock
FILES=()
for p in $BP $KIDS; do
	perf stat -x, -e "$EV" -p "$p" -- sleep 3 >"$T/perf.$p" 2>&1 &
	FILES+=("$T/perf.$p")
done
wait "$BP"
OPS=$(grep -o "C=$C: [0-9]* ops/s" "$T/out" | awk '{print $2}')
echo "$(basename "$BIN") ${SIZE} B C=$C: $OPS ops/s; per op (leader node2 node3, total)"
python3 - "$OPS" "${FILES[@]}" <<'PY'
import sys
ops = float(sys.argv[1]) * 3  # the perf window is 3 s of the cell
rows = {}
for i, f in enumerate(sys.argv[2:]):
    for line in open(f):
        p = line.strip().split(',')
        try:
            v = float(p[0])
        except (ValueError, IndexError):
            continue
        name = p[2].replace('syscalls:sys_enter_', '').replace('raw_syscalls:sys_enter', 'all syscalls')
        rows.setdefault(name, [0.0] * (len(sys.argv) - 2))[i] = v / ops
for k, v in rows.items():
    if k == 'task-clock':  # ms of CPU
        print("%-16s %s  total %.1f" % ('CPU us', ' '.join('%7.2f' % (x * 1000) for x in v), sum(v) * 1000))
    else:
        print("%-16s %s  total %.3f" % (k, ' '.join('%7.3f' % x for x in v), sum(v)))
PY
