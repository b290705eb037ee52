#!/usr/bin/env bash
# Remote cache benchmark: build the real 3.14.6 pair once, push it to a local OCI registry, then
# install it into fresh homes at another path from the registry, and compare with the build.
#
#   benches/remote_cache.sh [RUNS]          (RUNS restores, default 3)
#
# Prints, all measured in this run:
#   - the pair's build time (ftpy install --pair --profile fast --push), the reference;
#   - the cold install of the pair from the registry into a fresh home at a different path:
#     each run, then the median and the spread (min..max), and the ratio to the build;
#   - bytes transferred per install (what ftpy reports it downloaded);
#   - the archive sizes at the zstd level ftpy uses, and what other levels would give
#     (size, compression and decompression time of the free-threaded archive).
#
# Needs docker-registry (Debian's package of the CNCF Distribution registry), zstd, and the
# tarball at ../shared/cpython (or FTPY_BENCH_TARBALL). It asserts nothing. About 10 minutes on
# 2 cores, most of it the build. FTPY_BENCH_KEEP=1 keeps the work directory.
set -euo pipefail

# A script started with `&` has SIGINT ignored, and so has every build under it: give the
# builds the default (see benches/pair.sh).
sigign=$(awk '/^SigIgn/ {print $2}' "/proc/$$/status" 2>/dev/null || true)
if [ -n "$sigign" ] && [ -z "${FTPY_BENCH_SIGNALS_RESET:-}" ] && (( 16#${sigign: -1} & 2 )); then
    FTPY_BENCH_SIGNALS_RESET=1 exec env --default-signal=INT,QUIT bash "$0" "$@"
fi

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
version=3.14.6
runs=${1:-3}
tarball=${FTPY_BENCH_TARBALL:-$root/../shared/cpython/Python-$version.tar.xz}
ftpy=${FTPY_BENCH_BIN:-$root/target/release/ftpy}
[ -f "$tarball" ] || { echo "missing $tarball (set FTPY_BENCH_TARBALL)" >&2; exit 1; }
command -v docker-registry >/dev/null || { echo "docker-registry is not installed (apt-get install docker-registry)" >&2; exit 1; }
command -v zstd >/dev/null || { echo "zstd is not installed" >&2; exit 1; }
if [ -z "${FTPY_BENCH_BIN:-}" ]; then
    (cd "$root" && cargo build --release --locked --quiet)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ftpy-remote-bench.XXXXXX")
registry_pid=
cleanup() {
    [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
    [ -n "${FTPY_BENCH_KEEP:-}" ] || rm -rf -- "$work"
}
trap cleanup EXIT
[ -z "${FTPY_BENCH_KEEP:-}" ] || echo "keeping the logs and homes in $work" >&2
mkdir -p "$work/mirror/$version" "$work/registry"
ln -s "$tarball" "$work/mirror/$version/Python-$version.tar.xz"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
    sleep 0.1
done
url=oci+http://127.0.0.1:$port/ftpy/builds

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

echo "== building the $version pair once and pushing it to $url"
start=$(now)
FTPY_HOME=$work/builder FTPY_MIRROR=file://$work/mirror "$ftpy" install --pair --profile fast --no-ccache \
    --remote-cache "$url" --push "$version" >"$work/build.out" 2>&1 || { cat "$work/build.out" >&2; exit 1; }
build=$(elapsed "$start" "$(now)")
grep -E "^(Pushed|Installed)" "$work/build.out" | sed 's/^/   /'
echo "build and push: ${build}s"

echo "== installing the pair from the registry into fresh homes at another path ($runs runs)"
times=()
for i in $(seq "$runs"); do
    home=$work/consumers/a-longer-path-than-the-builder-had/run-$i/ftpy
    start=$(now)
    FTPY_HOME=$home "$ftpy" install --pair --profile fast --no-build --remote-cache "$url" "$version" \
        >"$work/restore-$i.out" 2>&1 || { cat "$work/restore-$i.out" >&2; exit 1; }
    t=$(elapsed "$start" "$(now)")
    times+=("$t")
    bytes=$(sed -nE 's/^Downloaded .*: ([0-9.]+ [KMG]?i?B) in .*/\1/p' "$work/restore-$i.out" | paste -sd+ - || true)
    echo "   run $i: ${t}s (downloaded $bytes)"
    rm -rf -- "$work/consumers/a-longer-path-than-the-builder-had/run-$i"
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(printf '%s\n' "$sorted" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
min=$(printf '%s\n' "$sorted" | head -1)
max=$(printf '%s\n' "$sorted" | tail -1)
echo "pair from the registry: median ${median}s (spread ${min}..${max}s over $runs runs)"
echo "ratio to the build: $(ratio "$median" "$build")  (target: under 20 s)"

echo "== archive sizes (zstd level ftpy uses: 3)"
for archive in "$work"/builder/cache/builds/*.tar.zst; do
    key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["inputs"]["install_key"])' "${archive%.tar.zst}.json")
    printf '   %-10s %s bytes\n' "$key" "$(stat -c %s "$archive")"
done
ft_archive=$(grep -l '"install_key": "3.14.6t"' "$work"/builder/cache/builds/*.json | head -1)
ft_archive=${ft_archive%.json}.tar.zst
zstd -dc "$ft_archive" > "$work/ft.tar"
echo "   the free-threaded tree: $(stat -c %s "$work/ft.tar") bytes as tar"
printf '   %-6s %12s %10s %10s\n' level bytes compress decompress
for level in 3 9 15 19; do
    start=$(now); zstd -q -f "-$level" -T0 "$work/ft.tar" -o "$work/ft.$level.zst"; c=$(elapsed "$start" "$(now)")
    start=$(now); zstd -q -dc "$work/ft.$level.zst" > /dev/null; d=$(elapsed "$start" "$(now)")
    printf '   %-6s %12s %9ss %9ss\n' "$level" "$(stat -c %s "$work/ft.$level.zst")" "$c" "$d"
done
