#!/usr/bin/env bash
# Benchmark (not a test): `ferry reg export` against `hivexregedit --export` on the SYSTEM
# fixture (11.7 MB, ~30,000 keys, ~74,000 values), in the same run, REPS times each
# (default 5); prints the fastest and the median wall time of each. Both write the whole
# hive as a .reg file to a local temporary folder.
#   bench/reg_export.sh            # uses ./build/ferry
#   FERRY_BUILD_DIR=build-clang REPS=9 bench/reg_export.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${FERRY_BUILD_DIR:-build}
FERRY=$BUILD/ferry
HIVES=${FERRY_SHARED_DIR:-$PWD/../shared}/fixtures/hives
REPS=${REPS:-5}
[ -x "$FERRY" ] || { echo "no $FERRY: build first (cmake -S . -B build && cmake --build build)" >&2; exit 2; }
command -v hivexregedit >/dev/null || { echo "hivexregedit missing (apt-get install libhivex-bin)" >&2; exit 2; }

T=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-XXXXXX")
trap 'rm -rf "$T"' EXIT
xz -dc "$HIVES/SYSTEM.xz" > "$T/SYSTEM"

now() { date +%s%N; }
# run NAME CMD...: times CMD REPS times, prints min and median in seconds.
run() {
    local name=$1 times=() t0 t1
    shift
    "$@" > /dev/null 2>&1 # warm the page cache
    for ((i = 0; i < REPS; i++)); do
        t0=$(now)
        "$@" > /dev/null 2>&1
        t1=$(now)
        times+=($(( (t1 - t0) / 1000000 )))
    done
    local sorted
    sorted=$(printf '%s\n' "${times[@]}" | sort -n)
    local min med
    min=$(echo "$sorted" | head -1)
    med=$(echo "$sorted" | sed -n "$(( (REPS + 1) / 2 ))p")
    awk -v n="$name" -v a="$min" -v b="$med" -v r="$REPS" \
        'BEGIN { printf "%-24s min %6.3f s   median %6.3f s   (%d runs)\n", n, a / 1000, b / 1000, r }'
}

echo "SYSTEM fixture: $(stat -c %s "$T/SYSTEM") bytes; $(nproc) CPUs; $(date -u +%F)"
run "ferry reg export" "$FERRY" reg export "$T/SYSTEM" -o "$T/ferry.reg"
run "hivexregedit --export" sh -c "hivexregedit --export '$T/SYSTEM' '\\' > '$T/hivex.reg'"
echo "output: ferry $(stat -c %s "$T/ferry.reg") bytes (UTF-16LE), hivexregedit $(stat -c %s "$T/hivex.reg") bytes (UTF-8)"
