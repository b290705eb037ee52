#!/usr/bin/env bash
# Interpreter-speed benchmark: a fixed pyperformance subset on two or more interpreters, in the
# same invocation, and each one's speed against its group's baseline.
#
#   benches/interpreter_speed.sh BASELINE OTHER [MORE...] [-- BASELINE OTHER [MORE...]]...
#
# e.g. pyenv's PGO+LTO 3.14.4 against ftpy's max build of 3.14.4, and the same for 3.14.4t:
#   benches/interpreter_speed.sh \
#       ~/.pyenv/versions/3.14.4/bin/python3.14 ~/.local/share/ftpy/versions/3.14.4/bin/python3.14 \
#       -- ~/.pyenv/versions/3.14.4t/bin/python3.14t ~/.local/share/ftpy/versions/3.14.4t/bin/python3.14t
#
# The benchmarks: the 16 below, pure Python on the standard library alone, so that every one
# runs on a free-threaded build too (no third-party C extension that would turn the GIL back on
# or fail to build). Left out: those that need third-party packages (django_template, genshi,
# chameleon, sqlalchemy, sympy, dulwich, mako, tornado, ...), the startup benchmarks (they time
# process creation, not the interpreter), the asyncio network ones (they time the loopback), and
# to keep a repetition near 3 minutes per interpreter, the other stdlib-only ones (generators,
# coroutines, deepcopy, unpack_sequence, ...): FTPY_BENCH_BENCHMARKS can name them instead.
#
# Interleaved, because a shared machine drifts: each repetition runs one benchmark on every
# interpreter in turn, then the next benchmark, so the times compared were taken one benchmark's
# run apart rather than a whole suite apart; every other repetition runs the interpreters in
# reverse order, so that none is always first (an even number of repetitions balances it).
# pyperformance runs in `--fast` mode unless FTPY_BENCH_RIGOROUS=1.
#
# Prints, per benchmark, the median time on each interpreter with the largest relative standard
# deviation of its values in any repetition (pyperf's, of that interpreter alone), and the
# speed-up against the group's baseline (its time / theirs, so above 1 is faster), the median
# and the range of the repetitions' ratios; then, per interpreter, the geometric mean of the
# speed-ups of each repetition, their median and range (n = the repetitions), and on how many
# results the median ratio was above 1. The range is not a confidence interval; for a test of
# significance, keep the files and use `pyperf compare_to`. It asserts nothing.
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
digits=$repeat
while [ "${digits#0}" != "$digits" ]; do digits=${digits#0}; done
case $digits in
    ''|*[!0-9]*|????*) echo "FTPY_BENCH_REPEAT must be a whole number from 1 to 999, not '$repeat'" >&2; exit 2;;
esac
repeat=$digits
# Names only: an empty one (`a,,b`) would make pyperformance run its whole default suite, and
# one starting with `-` would take a benchmark out of it.
case ",$benchmarks," in
    *,,*|*,-*|*[!a-z0-9_,-]*) echo "FTPY_BENCH_BENCHMARKS must be benchmark names separated by commas, not '$benchmarks'" >&2; exit 2;;
esac
IFS=, read -r -a names <<<"$benchmarks"
if [ "$(printf '%s\n' "${names[@]}" | sort | uniq -d)" ]; then
    echo "FTPY_BENCH_BENCHMARKS names a benchmark twice: '$benchmarks'" >&2; exit 2
fi

usage() {
    sed -n '5,10p' "$0" >&2
    echo "each group needs its baseline and at least one interpreter to compare with it" >&2
    exit 2
}
# pythons[i]: the interpreter; baseline[i]: the index of its group's baseline (itself for a
# baseline).
pythons=()
baseline=()
group_start=0
for p in "$@"; do
    if [ "$p" = -- ]; then
        [ $((${#pythons[@]} - group_start)) -ge 2 ] || usage
        group_start=${#pythons[@]}
        continue
    fi
    [ -x "$p" ] && [ -f "$p" ] || { echo "not an executable: $p" >&2; exit 2; }
    pythons+=("$(CDPATH='' cd -- "$(dirname -- "$p")" && pwd -P)/$(basename -- "$p")")
    baseline+=("$group_start")
done
[ ${#pythons[@]} -ge 2 ] && [ $((${#pythons[@]} - group_start)) -ge 2 ] || usage

source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
bench_tmpdir ftpy-interp-speed

# The runner: pyperformance in a venv of the system's python3.
python3 -m venv "$work/runner"
"$work/runner/bin/pip" install --quiet pyperformance >"$work/runner.log" 2>&1 \
    || { cat "$work/runner.log" >&2; echo "cannot install pyperformance from the package index" >&2; exit 1; }

echo "interpreter-speed benchmark: $(nproc) cores, $(uname -srm), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "pyperformance $("$work/runner/bin/python" -c 'import pyperformance; print(pyperformance.__version__)') $mode, $repeat repetition(s), interleaved by benchmark"
for i in "${!pythons[@]}"; do
    p=${pythons[$i]}
    against=""
    [ "${baseline[$i]}" = "$i" ] || against=" (against [${baseline[$i]}])"
    echo "  [$i] $p$against: $("$p" -c 'import sys; print(sys.version.replace(chr(10), " "), "GIL", "off" if not getattr(sys, "_is_gil_enabled", lambda: True)() else "on")')"
done

order=("${!pythons[@]}")
for ((r = 1; r <= repeat; r++)); do
    started=$SECONDS
    for name in "${names[@]}"; do
        for i in "${order[@]}"; do
            out=$work/run-$r-$i-$name.json
            (cd "$work" && "$work/runner/bin/pyperformance" run $mode --python="${pythons[$i]}" \
                -b "$name" -o "$out") >"$work/run-$r-$i-$name.log" 2>&1 \
                || { tail -30 "$work/run-$r-$i-$name.log" >&2
                     bench_fail_keeping "pyperformance failed: $name on ${pythons[$i]}"; }
        done
    done
    echo "  (repetition $r of $repeat done in $((SECONDS - started)) s, load $(cut -d' ' -f1 /proc/loadavg))" >&2
    # Reverse the order for the next repetition.
    reversed=()
    for ((k = ${#order[@]} - 1; k >= 0; k--)); do reversed+=("${order[$k]}"); done
    order=("${reversed[@]}")
done

# A failed analysis keeps the files: they took an hour or more to make.
analysed() { "$@" || bench_fail_keeping "the analysis failed"; }
analysed "$work/runner/bin/python" - "$work" "$repeat" "${baseline[*]}" "${names[@]}" <<'EOF'
import math, statistics, sys
import pyperf

work, repeat = sys.argv[1], int(sys.argv[2])
baseline = [int(b) for b in sys.argv[3].split()]
benchmarks = sys.argv[4:]
count = len(baseline)
# times[i][name] = [median of each repetition]; one benchmark (logging) gives several results.
times = [dict() for _ in range(count)]
spread = [dict() for _ in range(count)]  # relative standard deviation of the values, per run
for r in range(1, repeat + 1):
    for i in range(count):
        for b in benchmarks:
            suite = pyperf.BenchmarkSuite.load(f"{work}/run-{r}-{i}-{b}.json")
            for bench in suite.get_benchmarks():
                name = bench.get_name()
                times[i].setdefault(name, []).append(bench.median())
                if bench.get_nvalue() > 1:
                    spread[i].setdefault(name, []).append(bench.stdev() / bench.mean())
names = sorted(n for n in set.intersection(*(set(t) for t in times))
               if all(len(t[n]) == repeat for t in times))
missing = sorted(set.union(*(set(t) for t in times)) - set(names))
if missing:
    print("not run on every interpreter in every repetition (left out of the mean): " + ", ".join(missing))
if not names:
    sys.exit("no benchmark gave a result on every interpreter in every repetition")

def fmt(i, name):
    seconds = statistics.median(times[i][name])
    rsd = f"±{max(spread[i][name]) * 100:4.1f}%" if name in spread[i] else "  (n/a)"
    value, unit = next((seconds * scale, unit) for scale, unit in ((1e3, "ms"), (1e6, "us"), (1e9, "ns"))
                       if seconds * scale >= 1 or unit == "ns")
    return f"{value:10.2f} {unit} {rsd:>7}"

others = [i for i in range(count) if baseline[i] != i]
ratios = {(i, n): [b / o for b, o in zip(times[baseline[i]][n], times[i][n])] for i in others for n in names}
header = f"{'benchmark':<18}" + "".join(f"{'[' + str(i) + ']':>21}" for i in range(count))
header += "".join(f"{'[' + str(i) + '] vs [' + str(baseline[i]) + ']':>24}" for i in others)
print(header)
for name in names:
    row = f"{name:<18}" + "".join(fmt(i, name) for i in range(count))
    for i in others:
        r = ratios[(i, name)]
        row += f"{statistics.median(r):>9.3f}x ({min(r):5.2f}-{max(r):5.2f})"
    print(row)
print(f"(each ratio: the median and the range of {repeat} repetition(s))")
print()
for i in others:
    b = baseline[i]
    means = []
    for r in range(repeat):
        logs = [math.log(times[b][n][r] / times[i][n][r]) for n in names]
        means.append(math.exp(sum(logs) / len(logs)))
    faster = sum(1 for n in names if statistics.median(ratios[(i, n)]) > 1)
    print(f"[{i}] against [{b}]: geometric mean {statistics.median(means):.3f}x faster "
          f"(range over {repeat} repetition(s) {min(means):.3f}-{max(means):.3f}x; above 1 is faster); "
          f"median ratio above 1 on {faster} of {len(names)} results")
EOF
