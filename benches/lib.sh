# Set-up shared by the build benchmarks (pair.sh, build_speed.sh). Source it, then:
#
#   bench_default_signals "$@"     first thing: re-runs the script with SIGINT and SIGQUIT at
#                                  their defaults when it was started with them ignored
#   bench_work NAME VERSION TARBALL
#                                  sets $work to a fresh temporary directory (removed on exit
#                                  unless FTPY_BENCH_KEEP is set) holding a file:// mirror of
#                                  TARBALL at $work/mirror/VERSION/

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

bench_work() {
    local name=$1 version=$2 tarball=$3
    work=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
    if [ -n "${FTPY_BENCH_KEEP:-}" ]; then
        echo "keeping the logs and homes in $work" >&2
    else
        # shellcheck disable=SC2064 # $work is fixed now, on purpose
        trap "rm -rf -- '$work'" EXIT
    fi
    mkdir -p "$work/mirror/$version"
    ln -s "$tarball" "$work/mirror/$version/Python-$version.tar.xz"
}
