# Set-up shared by the benchmarks (pair.sh, build_speed.sh, interpreter_speed.sh). Source it, then:
#
#   bench_default_signals "$@"     first thing: re-runs the script with SIGINT and SIGQUIT at
#                                  their defaults when it was started with them ignored
#   bench_tmpdir NAME              sets $work to a fresh temporary directory (removed on exit
#                                  unless FTPY_BENCH_KEEP is set)
#   bench_fail_keeping MESSAGE     exits 1 with MESSAGE, keeping $work and naming it
#   bench_work NAME VERSION TARBALL
#                                  bench_tmpdir, holding a file:// mirror of TARBALL at
#                                  $work/mirror/VERSION/

# A job a shell script starts with `&` has SIGINT and SIGQUIT ignored, and so has every
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

# bench_fail_keeping MESSAGE: for a failure after results were made. Keeps $work (the cleanup
# trap is dropped), says where it is, and exits 1.
bench_fail_keeping() {
    trap - EXIT
    echo "$1; the logs and the results so far are kept in $work" >&2
    exit 1
}

bench_work() {
    local name=$1 version=$2 tarball=$3
    bench_tmpdir "$name"
    mkdir -p "$work/mirror/$version"
    ln -s "$tarball" "$work/mirror/$version/Python-$version.tar.xz"
}

# CPU time of a build, counted exactly. GNU time's user + sys (rusage) counts a process only once
# its parent, and each ancestor up to the timed command, has waited for it. A process whose parent
# exits first is reaped by init and lost: CPython 3.14's multiprocessing starts a forkserver that
# outlives its caller, so `make install`'s byte-compiling (`compileall -j0`) goes missing, and a
# fast 3.14.4 build measured here lost 38 of its 400 CPU-seconds (9.5%). A cgroup counts every
# process in it, whoever reaps it.
#
#   bench_cgroup_new NAME     prints a fresh cgroup directory, or nothing where none can be made
#                             (no cgroup file system, or no right to write it)
#   bash -c "$BENCH_CGROUP_JOIN" _ DIR CMD...
#                             runs CMD inside the cgroup DIR (all its processes stay in it); a
#                             command line, so that GNU time can run it
#   bench_cgroup_cpu DIR      waits up to 30 s for the cgroup's processes to end, prints the CPU
#                             seconds they used, and removes it
bench_cgroup_new() {
    local dir candidates=()
    # cgroup v1's cpuacct controller: cpuacct.usage, nanoseconds.
    [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ] && candidates+=("/sys/fs/cgroup/cpuacct:cpuacct.usage")
    # cgroup v2: cpu.stat's usage_usec is there without enabling any controller.
    local v2
    for v2 in /sys/fs/cgroup /sys/fs/cgroup/unified; do
        [ -f "$v2/cgroup.controllers" ] && candidates+=("$v2:cpu.stat")
    done
    local candidate
    for candidate in ${candidates[@]+"${candidates[@]}"}; do
        dir=${candidate%%:*}/ftpy-bench-$1-$$
        mkdir "$dir" 2>/dev/null || continue
        # A process must be able to join it (v2 refuses where the parent has controllers and
        # processes of its own; a container may not be allowed to move processes).
        if [ -f "$dir/${candidate#*:}" ] && bash -c "$BENCH_CGROUP_JOIN" bench-cgroup "$dir" true 2>/dev/null; then
            echo "$dir"
            return
        fi
        rmdir "$dir" 2>/dev/null || true
    done
    return 0
}

# shellcheck disable=SC2016 # expanded by the bash it is given to
BENCH_CGROUP_JOIN='echo $$ > "$1/cgroup.procs" && shift && exec "$@"'

bench_cgroup_cpu() {
    local dir=$1 i
    for ((i = 0; i < 300; i++)); do
        [ -z "$(cat "$dir/cgroup.procs")" ] && break
        sleep 0.1
    done
    if [ -f "$dir/cpuacct.usage" ]; then
        awk '{ printf "%.1f\n", $1 / 1e9 }' "$dir/cpuacct.usage"
    else
        awk '$1 == "usage_usec" { printf "%.1f\n", $2 / 1e6 }' "$dir/cpu.stat"
    fi
    rmdir "$dir" 2>/dev/null || echo "cannot remove $dir: processes are left in it" >&2
}
