#!/usr/bin/env bash
# Pair-install benchmark: ftpy against pyenv, same machine, same run, same source tarball.
#
#   benches/pair.sh [fast] [optimized] [warm]      (default: all three)
#
# fast       cold pair, no optimizations:
#              ftpy install --pair 3.13.5 --profile fast
#              pyenv install 3.13.5 && pyenv install 3.13.5t
# optimized  cold pair, --enable-optimizations --with-lto on both sides:
#              ftpy install --pair 3.13.5
#              PYTHON_CONFIGURE_OPTS="--enable-optimizations --with-lto" pyenv install ... (both)
# warm       ftpy uninstall --pair, then ftpy install --pair again, from the build cache
#
# Both sides read the same local tarball: ftpy through a file:// mirror, pyenv from its cache
# directory. Each side gets a fresh, temporary home (FTPY_HOME, PYENV_ROOT), so nothing is
# shared between them or with your own installs; ccache is off for ftpy. Needs pyenv on PATH
# and the tarball at ../shared/cpython (or FTPY_BENCH_TARBALL). Prints wall times and ratios;
# it asserts nothing. Takes about two and a half hours for all three on 2 cores.
# FTPY_BENCH_KEEP=1 keeps the work directory (build logs, homes) for a look afterwards.
set -euo pipefail

# Builds need SIGINT at its default (see lib.sh).
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
bench_default_signals "$@"

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
version=3.13.5
tarball=${FTPY_BENCH_TARBALL:-$root/../shared/cpython/Python-$version.tar.xz}
ftpy=${FTPY_BENCH_BIN:-$root/target/release/ftpy}

[ -f "$tarball" ] || { echo "missing $tarball (set FTPY_BENCH_TARBALL)" >&2; exit 1; }
command -v pyenv >/dev/null || { echo "pyenv is not on PATH" >&2; exit 1; }
if [ -z "${FTPY_BENCH_BIN:-}" ]; then
    (cd "$root" && cargo build --release --locked --quiet)
fi

modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(fast optimized warm)

bench_work ftpy-bench "$version" "$tarball"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# ftpy_pair NAME ARGS...: a cold pair install into a fresh home; prints seconds.
ftpy_pair() {
    local name=$1; shift
    local home=$work/ftpy-$name
    rm -rf -- "$home"
    local start end
    start=$(now)
    FTPY_HOME=$home FTPY_MIRROR=file://$work/mirror "$ftpy" --quiet install --pair --no-ccache "$@" "$version" \
        >"$work/ftpy-$name.out" 2>&1 || { cat "$work/ftpy-$name.out" >&2; return 1; }
    end=$(now)
    elapsed "$start" "$end"
}

# pyenv_pair NAME: pyenv install of both builds into a fresh PYENV_ROOT; prints seconds.
pyenv_pair() {
    local name=$1
    local proot=$work/pyenv-$name
    rm -rf -- "$proot"
    mkdir -p "$proot/cache"
    cp -- "$tarball" "$proot/cache/"
    local start end
    start=$(now)
    { PYENV_ROOT=$proot pyenv install "$version" && PYENV_ROOT=$proot pyenv install "${version}t"; } \
        >"$work/pyenv-$name.out" 2>&1 || { tail -40 "$work/pyenv-$name.out" >&2; return 1; }
    end=$(now)
    elapsed "$start" "$end"
}

echo "ftpy pair benchmark: CPython $version, $(nproc) cores, $(uname -srm)"
echo "ftpy: $("$ftpy" --version); pyenv: $(pyenv --version); cc: $(cc --version | head -1)"
echo

for mode in "${modes[@]}"; do
    case "$mode" in
        fast)
            f=$(ftpy_pair fast --profile fast)
            unset PYTHON_CONFIGURE_OPTS
            p=$(pyenv_pair fast)
            echo "cold pair, no optimizations:  ftpy ${f}s  pyenv ${p}s  ratio $(ratio "$f" "$p")x  (target <= 0.6x)"
            ;;
        optimized)
            f=$(ftpy_pair optimized)
            p=$(PYTHON_CONFIGURE_OPTS="--enable-optimizations --with-lto" pyenv_pair optimized)
            echo "cold pair, optimized:         ftpy ${f}s  pyenv ${p}s  ratio $(ratio "$f" "$p")x  (target <= 0.7x)"
            ;;
        warm)
            # Reuse the fast run's home (and its build cache) when it ran; else build once.
            home=$work/ftpy-fast
            if [ ! -d "$home/versions" ]; then
                FTPY_HOME=$home FTPY_MIRROR=file://$work/mirror "$ftpy" --quiet install --pair --profile fast --no-ccache "$version" >/dev/null
            fi
            FTPY_HOME=$home "$ftpy" --quiet uninstall --pair "$version" >/dev/null
            start=$(now)
            FTPY_HOME=$home FTPY_MIRROR=file://$work/mirror "$ftpy" --quiet install --pair --profile fast --no-ccache "$version" \
                >"$work/warm.out"
            end=$(now)
            grep -c "restored from the build cache" "$work/warm.out" | grep -qx 2 \
                || { echo "warm reinstall did not restore both builds from the cache:" >&2; cat "$work/warm.out" >&2; exit 1; }
            echo "warm pair reinstall from the build cache: ftpy $(elapsed "$start" "$end")s  (target < 10s)"
            ;;
        *)
            echo "unknown mode $mode (fast, optimized, warm)" >&2
            exit 2
            ;;
    esac
done
