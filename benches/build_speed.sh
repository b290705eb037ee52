#!/usr/bin/env bash
# Build-speed benchmark: ftpy against pyenv, same machine, same run, same source tarball.
#
#   benches/build_speed.sh [single] [pair-fast] [pair-optimized]     (default: all three)
#
# single          one optimized build of the GIL interpreter:
#                   ftpy install 3.14.4      (the default profile: PGO + LTO)
#                   PYTHON_CONFIGURE_OPTS="--enable-optimizations --with-lto" pyenv install 3.14.4
# pair-fast       both builds, no optimizations:
#                   ftpy install --pair --profile fast 3.14.4
#                   pyenv install 3.14.4 && pyenv install 3.14.4t
# pair-optimized  both builds, --enable-optimizations --with-lto on both sides
#
# For every build it prints the wall time and the CPU seconds (of every process the build ran,
# from a cgroup where one can be made, else user + sys from GNU time), then ftpy's ratio to
# pyenv. Each side gets a fresh, temporary home (FTPY_HOME, PYENV_ROOT) and reads the same
# tarball: ftpy through a file:// mirror, pyenv from its cache directory; ccache is off for ftpy.
# It asserts nothing.
#
# Environment:
#   FTPY_BENCH_VERSION  the CPython version (default 3.14.4, the newest 3.14 pyenv 2.6.30 knows)
#   FTPY_BENCH_TARBALL  the source tarball (default ../shared/cpython/Python-VERSION.tar.xz)
#   FTPY_BENCH_BIN      an ftpy binary (default: cargo build --release)
#   FTPY_BENCH_REPEAT   runs of each side, alternating (default 1); the median and the range
#                       are printed when it is more than 1
#   FTPY_BENCH_SIDES    "ftpy pyenv" (default), or one of them alone: no ratio is printed then
#   FTPY_BENCH_KEEP=1   keep the work directory (build logs, homes)
# Takes about 35 minutes for `single` on 2 cores idle, 10 for `pair-fast`, 65 for
# `pair-optimized`, per repetition.
set -euo pipefail

# Builds need SIGINT at its default (see lib.sh).
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
bench_default_signals "$@"

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
version=${FTPY_BENCH_VERSION:-3.14.4}
tarball=${FTPY_BENCH_TARBALL:-$root/../shared/cpython/Python-$version.tar.xz}
ftpy=${FTPY_BENCH_BIN:-$root/target/release/ftpy}
repeat=${FTPY_BENCH_REPEAT:-1}
sides=${FTPY_BENCH_SIDES:-ftpy pyenv}

[ -f "$tarball" ] || { echo "missing $tarball (set FTPY_BENCH_TARBALL)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 1; }
case " $sides " in *" pyenv "*) command -v pyenv >/dev/null || { echo "pyenv is not on PATH" >&2; exit 1; } ;; esac
case " $sides " in
    *" ftpy "*) [ -n "${FTPY_BENCH_BIN:-}" ] || (cd "$root" && cargo build --release --locked --quiet) ;;
esac

modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(single pair-fast pair-optimized)

bench_work ftpy-build-speed "$version" "$tarball"

# timed NAME CMD...: runs CMD with its output in NAME.out; prints "wall cpu" in seconds. The CPU
# comes from a cgroup where one can be made (lib.sh says why), else from GNU time; both are kept,
# in NAME.cpu-cgroup and NAME.time.
timed() {
    local name=$1; shift
    local group
    group=$(bench_cgroup_new "$name")
    local run=("$@")
    [ -z "$group" ] || run=(bash -c "$BENCH_CGROUP_JOIN" bench-cgroup "$group" "$@")
    /usr/bin/time -o "$work/$name.time" -f "%e %U %S" "${run[@]}" >"$work/$name.out" 2>&1 \
        || { [ -z "$group" ] || bench_cgroup_cpu "$group" >/dev/null
             tail -40 "$work/$name.out" >&2; echo "$name failed (log: $work/$name.out)" >&2; return 1; }
    if [ -n "$group" ]; then
        bench_cgroup_cpu "$group" >"$work/$name.cpu-cgroup"
        awk -v cpu="$(cat "$work/$name.cpu-cgroup")" '{ printf "%.1f %s\n", $1, cpu }' "$work/$name.time"
    else
        awk '{ printf "%.1f %.1f\n", $1, $2 + $3 }' "$work/$name.time"
    fi
}

# ftpy_build NAME ARGS...: an ftpy install into a fresh home.
ftpy_build() {
    local name=$1; shift
    rm -rf -- "$work/home-$name"
    timed "$name" env FTPY_HOME="$work/home-$name" FTPY_MIRROR="file://$work/mirror" \
        "$ftpy" install --no-ccache "$@" "$version"
}

# pyenv_build NAME VERSION...: pyenv installs into a fresh PYENV_ROOT, one after the other.
pyenv_build() {
    local name=$1; shift
    local proot=$work/root-$name
    rm -rf -- "$proot"
    mkdir -p "$proot/cache"
    cp -- "$tarball" "$proot/cache/"
    local script="set -e; for v in $*; do pyenv install \"\$v\"; done"
    timed "$name" env PYENV_ROOT="$proot" MAKE_OPTS="-j$(nproc)" bash -c "$script"
}

# stats FILE: "median min max" of the first column of FILE.
stats() {
    sort -n "$1" | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.1f %.1f %.1f\n", m, v[1], v[NR] }'
}

# report LABEL: prints both sides' figures and the ratios from $work/LABEL-{ftpy,pyenv}.{wall,cpu}.
report() {
    local label=$1 side what fw pw
    for side in $sides; do
        for what in wall cpu; do
            read -r med lo hi < <(stats "$work/$label-$side.$what")
            if [ "$repeat" -gt 1 ]; then
                printf '  %-6s %-4s median %7.1fs  range %.1f-%.1fs  (n=%s)\n' "$side" "$what" "$med" "$lo" "$hi" "$repeat"
            else
                printf '  %-6s %-4s %7.1fs\n' "$side" "$what" "$med"
            fi
        done
    done
    if [ "$sides" = "ftpy pyenv" ] || [ "$sides" = "pyenv ftpy" ]; then
        for what in wall cpu; do
            fw=$(stats "$work/$label-ftpy.$what" | cut -d' ' -f1)
            pw=$(stats "$work/$label-pyenv.$what" | cut -d' ' -f1)
            printf '  ratio  %-4s %.2fx (ftpy/pyenv, medians)\n' "$what" "$(awk -v a="$fw" -v b="$pw" 'BEGIN { print a / b }')"
        done
    fi
}

echo "build-speed benchmark: CPython $version, $(nproc) cores, $(uname -srm), load $(cut -d' ' -f1-3 /proc/loadavg)"
case " $sides " in *" ftpy "*) echo "ftpy: $("$ftpy" --version)" ;; esac
case " $sides " in *" pyenv "*) echo "pyenv: $(pyenv --version)" ;; esac
echo "cc: $(cc --version | head -1)"
if probe=$(bench_cgroup_new probe) && [ -n "$probe" ]; then
    bench_cgroup_cpu "$probe" >/dev/null
    echo "cpu: counted by a cgroup (every process of the build, whoever reaps it)"
else
    echo "cpu: GNU time's user + sys (no cgroup could be made here: processes reaped by init, such"
    echo "     as 3.14's multiprocessing forkserver in make install, are missed on both sides)"
fi

for mode in "${modes[@]}"; do
    case "$mode" in
        single) label="one optimized build of $version (PGO + LTO)" ;;
        pair-fast) label="the pair $version + ${version}t, no optimizations" ;;
        pair-optimized) label="the pair $version + ${version}t, PGO + LTO" ;;
        *) echo "unknown mode $mode (single, pair-fast, pair-optimized)" >&2; exit 2 ;;
    esac
    for ((i = 1; i <= repeat; i++)); do
        for side in $sides; do
            name=$mode-$side-$i
            case "$mode-$side" in
                single-ftpy) r=$(ftpy_build "$name") ;;
                single-pyenv) r=$(PYTHON_CONFIGURE_OPTS="--enable-optimizations --with-lto" pyenv_build "$name" "$version") ;;
                pair-fast-ftpy) r=$(ftpy_build "$name" --pair --profile fast) ;;
                pair-fast-pyenv) r=$(PYTHON_CONFIGURE_OPTS="" pyenv_build "$name" "$version" "${version}t") ;;
                pair-optimized-ftpy) r=$(ftpy_build "$name" --pair) ;;
                pair-optimized-pyenv) r=$(PYTHON_CONFIGURE_OPTS="--enable-optimizations --with-lto" pyenv_build "$name" "$version" "${version}t") ;;
            esac
            echo "${r% *}" >>"$work/$mode-$side.wall"
            echo "${r#* }" >>"$work/$mode-$side.cpu"
            echo "  ($mode, run $i, $side: wall ${r% *}s, cpu ${r#* }s)" >&2
        done
    done
    echo
    echo "$label:"
    report "$mode"
done
