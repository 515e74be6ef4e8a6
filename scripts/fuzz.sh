#!/usr/bin/env bash
# Runs every libFuzzer target built in build-fuzz/ (fuzz/fuzz_*.c) for FUZZ_SECONDS each
# (default 60), seeded from fuzz/seeds/<name without fuzz_>/ when that folder exists.
# New inputs go to build-fuzz/corpus/<name>/ (the committed seeds are never written to);
# crashes go to build-fuzz/artifacts/. Exits non-zero when any target finds something.
#
#   CC=clang cmake -S . -B build-fuzz -DFERRY_FUZZ=ON && cmake --build build-fuzz
#   scripts/fuzz.sh                      # every target
#   FUZZ_SECONDS=300 scripts/fuzz.sh fuzz_program_load
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for src in fuzz/fuzz_*.c; do
    [ -e "$src" ] || continue
    targets+=("$(basename "$src" .c)")
  done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz.sh: no fuzz targets" >&2; exit 2; }

failed=()
for name in "${targets[@]}"; do
  bin="$build/fuzz/$name"
  [ -x "$bin" ] || bin="$build/$name"
  if [ ! -x "$bin" ]; then
    echo "fuzz.sh: $bin not built (CC=clang cmake -S . -B $build -DFERRY_FUZZ=ON)" >&2
    exit 2
  fi
  corpus="$build/corpus/$name"
  artifacts="$build/artifacts"
  mkdir -p "$corpus" "$artifacts"
  dirs=("$corpus")
  seeds="fuzz/seeds/${name#fuzz_}"
  [ -d "$seeds" ] && dirs+=("$seeds")
  echo "== $name: ${seconds}s, corpus ${dirs[*]}"
  if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/$name-" "${dirs[@]}"; then
    failed+=("$name")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]} (see $build/artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: no findings"
