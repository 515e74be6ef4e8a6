#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, builds twice (a normal
# build, and one with AddressSanitizer + UndefinedBehaviorSanitizer), runs ctest in both,
# and builds the fuzz targets (running them is scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFERRY_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
# exitcode=99: a sanitizer report must never pass for one of ferry's own exit codes (1 = partial)
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:exitcode=99 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --output-on-failure -j"$jobs")

CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DFERRY_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$jobs"
echo "test.sh: all passed"
