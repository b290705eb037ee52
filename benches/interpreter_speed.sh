#!/usr/bin/env bash
# Interpreter-speed benchmark: a fixed pyperformance subset on two or more interpreters, in the
# same invocation, and each one's speed against the first.
#
#   benches/interpreter_speed.sh BASELINE_PYTHON OTHER_PYTHON [MORE_PYTHONS...]
#
# e.g. pyenv's PGO+LTO 3.14.4 against ftpy's max builds of 3.14.4 and 3.14.4t:
#   benches/interpreter_speed.sh ~/.pyenv/versions/3.14.4/bin/python3.14 \
#       ~/.local/share/ftpy/versions/3.14.4/bin/python3.14 \
#       ~/.local/share/ftpy/versions/3.14.4t/bin/python3.14t
#
# The benchmarks: the 16 below, pure Python on the standard library alone, so that every one
# runs on a free-threaded build too (no third-party C extension that would turn the GIL back on
# or fail to build). Left out: those that need third-party packages (django_template, genshi,
# chameleon, sqlalchemy, sympy, dulwich, mako, tornado, ...), the startup benchmarks (they time
# process creation, not the interpreter), the asyncio network ones (they time the loopback), and
# to keep a run near 5 minutes per interpreter, the other stdlib-only ones (generators,
# coroutines, deepcopy, unpack_sequence, ...): FTPY_BENCH_BENCHMARKS adds them.
#
# Each repetition runs every interpreter once, in turn; pyperformance runs in `--fast` mode
# unless FTPY_BENCH_RIGOROUS=1. Prints, per benchmark, the median time on each interpreter with
# pyperf's relative standard deviation over its values, and the speed-up against the first (its
# time / theirs, so above 1 is faster) with the range over the repetitions; then the geometric
# mean, with its range over the repetitions. It asserts nothing.
#
# Environment:
#   FTPY_BENCH_REPEAT      repetitions (default 2)
#   FTPY_BENCH_RIGOROUS=1  pyperformance --rigorous instead of --fast (about 4x longer)
#   FTPY_BENCH_BENCHMARKS  a comma-separated list instead of the fixed one
#   FTPY_BENCH_KEEP=1      keep the work directory (the pyperf JSON files)
# pyperformance and pyperf come from the package index your pip is configured for.
set -euo pipefail

BENCHMARKS=chaos,deltablue,fannkuch,float,go,hexiom,json_dumps,json_loads,logging,nbody,nqueens,pyflate,raytrace,regex_v8,richards,spectral_norm
benchmarks=${FTPY_BENCH_BENCHMARKS:-$BENCHMARKS}
repeat=${FTPY_BENCH_REPEAT:-2}
mode=--fast
[ -z "${FTPY_BENCH_RIGOROUS:-}" ] || mode=--rigorous

[ $# -ge 2 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
pythons=()
for p in "$@"; do
    [ -x "$p" ] || { echo "not an executable: $p" >&2; exit 2; }
    pythons+=("$(cd "$(dirname "$p")" && pwd -P)/$(basename "$p")")
done

source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
bench_tmpdir ftpy-interp-speed

# The runner: pyperformance in a venv of the system's python3.
python3 -m venv "$work/runner"
"$work/runner/bin/pip" install --quiet pyperformance >"$work/runner.log" 2>&1 \
    || { cat "$work/runner.log" >&2; echo "cannot install pyperformance from the package index" >&2; exit 1; }

echo "interpreter-speed benchmark: $(nproc) cores, $(uname -srm), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "pyperformance $("$work/runner/bin/python" -c 'import pyperformance; print(pyperformance.__version__)') $mode, $repeat repetitions"
i=0
for p in "${pythons[@]}"; do
    echo "  [$i] $p: $("$p" -c 'import sys; print(sys.version.replace(chr(10), " "), "GIL", "off" if not getattr(sys, "_is_gil_enabled", lambda: True)() else "on")')"
    i=$((i + 1))
done

for ((r = 1; r <= repeat; r++)); do
    i=0
    for p in "${pythons[@]}"; do
        out=$work/run-$r-$i.json
        (cd "$work" && "$work/runner/bin/pyperformance" run $mode --python="$p" \
            -b "$benchmarks" -o "$out") >"$work/run-$r-$i.log" 2>&1 \
            || { tail -30 "$work/run-$r-$i.log" >&2; echo "pyperformance failed on $p (log: $work/run-$r-$i.log)" >&2; exit 1; }
        echo "  (repetition $r, [$i] done, load $(cut -d' ' -f1 /proc/loadavg))" >&2
        i=$((i + 1))
    done
done

"$work/runner/bin/python" - "$work" "$repeat" "${#pythons[@]}" <<'EOF'
import math, statistics, sys
import pyperf

work, repeat, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
# times[i][name] = [median of each repetition]
times = [dict() for _ in range(count)]
spread = [dict() for _ in range(count)]  # relative standard deviation of the values, per run
for r in range(1, repeat + 1):
    for i in range(count):
        suite = pyperf.BenchmarkSuite.load(f"{work}/run-{r}-{i}.json")
        for bench in suite.get_benchmarks():
            name = bench.get_name()
            times[i].setdefault(name, []).append(bench.median())
            if bench.get_nvalue() > 1:
                spread[i].setdefault(name, []).append(bench.stdev() / bench.mean())
names = sorted(set.intersection(*(set(t) for t in times)))
missing = sorted(set.union(*(set(t) for t in times)) - set(names))
if missing:
    print("not run on every interpreter (left out of the mean): " + ", ".join(missing))

def fmt(i, name):
    seconds = statistics.median(times[i][name])
    rsd = max(spread[i].get(name, [0.0]))
    return f"{seconds * 1e3:9.2f} ms ±{rsd * 100:4.1f}%"

header = f"{'benchmark':<18}" + "".join(f"{'[' + str(i) + ']':>20}" for i in range(count))
header += "".join(f"{'[' + str(i) + '] vs [0]':>20}" for i in range(1, count))
print(header)
for name in names:
    row = f"{name:<18}" + "".join(fmt(i, name) for i in range(count))
    for i in range(1, count):
        ratios = [b / o for b, o in zip(times[0][name], times[i][name])]
        row += f"{statistics.median(ratios):>9.3f}x ({min(ratios):.2f}-{max(ratios):.2f})"
    print(row)
print()
for i in range(1, count):
    means = []
    for r in range(repeat):
        logs = [math.log(times[0][n][r] / times[i][n][r]) for n in names]
        means.append(math.exp(sum(logs) / len(logs)))
    print(f"[{i}] against [0]: geometric mean {statistics.median(means):.3f}x faster "
          f"(range over {repeat} repetitions {min(means):.3f}-{max(means):.3f}x; above 1 is faster)")
EOF
