# Set-up shared by the benchmarks (pair.sh, build_speed.sh, interpreter_speed.sh). Source it, then:
#
#   bench_default_signals "$@"     first thing: re-runs the script with SIGINT and SIGQUIT at
#                                  their defaults when it was started with them ignored
#   bench_tmpdir NAME              sets $work to a fresh temporary directory (removed on exit
#                                  unless FTPY_BENCH_KEEP is set)
#   bench_work NAME VERSION TARBALL
#                                  bench_tmpdir, holding a file:// mirror of TARBALL at
#                                  $work/mirror/VERSION/

# A job a script starts with `&` (or nohup) has SIGINT and SIGQUIT ignored, and so has every
# build under it; CPython's PGO training run then fails (test_generators expects
# raise_signal(SIGINT) to raise KeyboardInterrupt). ftpy resets them for its builds, pyenv does
# not: give both sides the defaults, or an optimized comparison measures nothing. (bash reports
# SIGQUIT ignored for itself in any case, so only SIGINT tells.)
bench_default_signals() {
    local sigign
    sigign=$(awk '/^SigIgn/ {print $2}' "/proc/$$/status" 2>/dev/null || true)
    if [ -n "$sigign" ] && [ -z "${FTPY_BENCH_SIGNALS_RESET:-}" ] && (( 16#${sigign: -1} & 2 )); then
        FTPY_BENCH_SIGNALS_RESET=1 exec env --default-signal=INT,QUIT bash "$0" "$@"
    fi
}

# bench_tmpdir NAME: sets $work to a fresh temporary directory, removed on exit unless
# FTPY_BENCH_KEEP is set.
bench_tmpdir() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    if [ -n "${FTPY_BENCH_KEEP:-}" ]; then
        echo "keeping the logs and results in $work" >&2
    else
        # $work is read when the trap runs, so no quoting of its value can go wrong.
        trap 'rm -rf -- "$work"' EXIT
    fi
}

bench_work() {
    local name=$1 version=$2 tarball=$3
    bench_tmpdir "$name"
    mkdir -p "$work/mirror/$version"
    ln -s "$tarball" "$work/mirror/$version/Python-$version.tar.xz"
}
