#!/usr/bin/env bash
# Wheel-coverage benchmark: `ftpy wheels check` on a 100-requirement file against a local index,
# next to the same answer from pip, one `pip download` per requirement (what a script without
# ftpy would do), in the same run:
#
#   pip download --only-binary :all: --abi cp313t --platform manylinux_2_17_x86_64 \
#       --python-version 3.13 --implementation cp --no-deps -d DIR REQ
#
#   benches/wheels_check.sh [N]        (default N=100)
#
# The index (benches/make_index.py, served by benches/index_server.py with PEP 691 JSON) holds
# N projects, a quarter each with cp313t wheels, pure wheels, abi3 wheels only, sdists only.
# ftpy runs with a fresh home (no cached pages), then again warm. Prints times, the ratio and
# whether the two answers agree; asserts nothing. FTPY_BENCH_PYTHON picks the python whose pip
# is measured (default python3); use a current pip, e.g. FTPY_BENCH_PYTHON=$(ftpy which 3.13t):
# an older pip (23.2.1 here) accepts abi3 wheels for `--abi cp313t`, which free-threaded CPython
# cannot load.
set -euo pipefail

root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
count=${1:-100}
ftpy=${FTPY_BENCH_BIN:-$root/target/release/ftpy}
python=${FTPY_BENCH_PYTHON:-python3}
if [ -z "${FTPY_BENCH_BIN:-}" ]; then
    (cd "$root" && cargo build --release --locked --quiet)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ftpy-wheels-bench.XXXXXX")
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf -- "$work"; }
trap cleanup EXIT

"$python" "$root/benches/make_index.py" "$work/index" "$count" "$work/requirements.txt"
"$python" "$root/benches/index_server.py" "$work/index" > "$work/server.url" &
server=$!
for _ in $(seq 50); do [ -s "$work/server.url" ] && break; sleep 0.1; done
url=$(cat "$work/server.url")

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

echo "wheels check benchmark: $count requirements, local index $url, $(nproc) cores, $(uname -sm)"
echo "ftpy: $("$ftpy" --version); pip: $("$python" -m pip --version | cut -d' ' -f1-2)"

export PIP_CONFIG_FILE=/dev/null
start=$(now)
FTPY_HOME=$work/home "$ftpy" --quiet wheels check -r "$work/requirements.txt" --python 3.13t \
    --platform manylinux_2_17_x86_64 --index-url "$url" --json > "$work/ftpy.json"
end=$(now)
ftpy_cold=$(elapsed "$start" "$end")
start=$(now)
FTPY_HOME=$work/home "$ftpy" --quiet wheels check -r "$work/requirements.txt" --python 3.13t \
    --platform manylinux_2_17_x86_64 --index-url "$url" --json > /dev/null
end=$(now)
ftpy_warm=$(elapsed "$start" "$end")

start=$(now)
: > "$work/pip.ready"
while read -r req; do
    if "$python" -m pip download --quiet --disable-pip-version-check --no-cache-dir \
        --only-binary :all: --abi cp313t --platform manylinux_2_17_x86_64 --python-version 3.13 \
        --implementation cp --no-deps -d "$work/pip-dl" --index-url "$url" "$req" >/dev/null 2>&1; then
        echo "$req" >> "$work/pip.ready"
    fi
done < "$work/requirements.txt"
end=$(now)
pip_time=$(elapsed "$start" "$end")

"$python" - "$work/ftpy.json" "$work/pip.ready" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
ftpy_ready = sorted(p["name"] for p in report["packages"] if p["verdict"] in ("target-wheel", "pure-wheel"))
pip_ready = sorted(line.strip() for line in open(sys.argv[2]) if line.strip())
print(f"ready: ftpy {len(ftpy_ready)}, pip download {len(pip_ready)}; answers agree: {ftpy_ready == pip_ready}")
PY
printf '%-34s %8ss\n' "ftpy wheels check (cold)" "$ftpy_cold"
printf '%-34s %8ss\n' "ftpy wheels check (warm cache)" "$ftpy_warm"
printf '%-34s %8ss\n' "pip download, one per requirement" "$pip_time"
awk -v a="$ftpy_cold" -v b="$pip_time" 'BEGIN { printf "ratio ftpy/pip (cold): %.3fx (%.0fx faster)\n", a / b, b / a }'
