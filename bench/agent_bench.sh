#!/usr/bin/env bash
# Extraction, incremental backup and injection on a generated profile, against peers in the
# same run: `tar -czf` of the same selection, `restic backup` (first and second run), and
# `tar -xzf`. Not part of the test suite: it writes gigabytes and takes minutes.
#
#   bash bench/agent_bench.sh [FILES] [TOTAL_MB]     (default 100000 files, 2048 MB)
#   BENCH_DIR=/big/disk bash bench/agent_bench.sh
#
# Prints wall time and peak RSS (GNU time) of each; peak RSS of extraction is also measured
# at 10k, 100k (and with BENCH_MILLION=1, 1M) files to show memory stays flat.
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-100000}
total_mb=${2:-2048}
build=${FERRY_BUILD_DIR:-build}
ferry=$build/ferry
work=${BENCH_DIR:-$(mktemp -d)}
command -v restic >/dev/null || { echo "bench: restic is needed (apt-get install restic)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: GNU time is needed (apt-get install time)" >&2; exit 2; }
mkdir -p "$work"
measure() { # measure LABEL CMD...: prints seconds and peak RSS
  local label=$1
  shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { local rc=$?; [ $rc = 1 ] || { cat "$work/err"; return $rc; }; }
  read -r secs kb <"$work/time"
  printf '%-40s %8.2f s %10d KB\n' "$label" "$secs" "$kb"
}

# A machine: the sample XP volume, with hdowd's My Documents filled with FILES files of
# mixed sizes (text-like and random data) in a tree of folders.
make_machine() { # make_machine DIR FILES TOTAL_MB
  rm -rf "$1"
  FERRY_BIN="$ferry" bash scripts/make-sample-machines.sh "$1.tmp" >/dev/null
  mv "$1.tmp/xp" "$1"
  rm -rf "$1.tmp"
  python3 - "$1/Documents and Settings/hdowd/My Documents/Bench" "$2" "$3" <<'PY'
import os, random, sys
root, n, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) * 1024 * 1024
random.seed(1)
avg = max(1, total // n)
words = b"the quick brown fox jumps over the lazy dog report budget quarter client " * 64
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 997), "s%02d" % (i % 31))
    os.makedirs(d, exist_ok=True)
    size = int(random.expovariate(1 / avg))
    ext = random.choice([".docx", ".xlsx", ".pdf", ".txt", ".jpg"])
    with open(os.path.join(d, "f%07d%s" % (i, ext)), "wb") as f:
        if ext in (".txt", ".docx"):
            f.write((words * (size // len(words) + 1))[:size])
        else:
            f.write(os.urandom(size))
PY
}

"$build/ferryc" compile -o "$work/SE.fyb" rules/SE.cfg 2>/dev/null
m="$work/xp"
echo "generating $files files, about $total_mb MB ..."
make_machine "$m" "$files" "$total_mb"
docs="$m/Documents and Settings/hdowd"
echo
printf '%-40s %10s %13s\n' "" "wall" "peak RSS"
measure "ferry extract" "$ferry" extract --machine "$m" --store "$work/store" --program "$work/SE.fyb" --include-user 'OLDCORP\hdowd' --log-dir "$work/logs" --hide-status
measure "tar -czf (same folders)" tar -czf "$work/p.tgz" -C "$docs" "My Documents" Desktop Favorites
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY="$work/restic"
restic init >/dev/null 2>&1
measure "restic backup (first run)" restic backup -q "$docs/My Documents" "$docs/Desktop" "$docs/Favorites"
# 1 % of the files change
python3 - "$docs/My Documents/Bench" <<'PY'
import os, sys
n = 0
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        n += 1
        if n % 100 == 0:
            with open(os.path.join(d, f), "ab") as h:
                h.write(b"changed")
PY
measure "ferry backup (1% changed)" "$ferry" backup --machine "$m" --store "$work/store" --include-user 'OLDCORP\hdowd' --log-dir "$work/logs" --hide-status
measure "restic backup (second run, 1% changed)" restic backup -q "$docs/My Documents" "$docs/Desktop" "$docs/Favorites"
rm -rf "$work/w10"
FERRY_BIN="$ferry" bash scripts/make-sample-machines.sh "$work/t" >/dev/null
mv "$work/t/win10" "$work/w10"
measure "ferry inject" "$ferry" inject --machine "$work/w10" --store "$work/store" --include-user 'OLDCORP\hdowd' --user-map 'OLDCORP\hdowd=NEWCORP\howard.dowd=S-1-5-21-1-2-3-1201' --log-dir "$work/logs" --hide-status
mkdir -p "$work/untar"
measure "tar -xzf" tar -xzf "$work/p.tgz" -C "$work/untar"
du -sh "$work/store" "$work/p.tgz" "$work/restic" | sed 's/^/size: /'

echo
echo "peak RSS of extraction as the file count grows:"
sizes="10000 100000"
[ "${BENCH_MILLION:-0}" = 1 ] && sizes="$sizes 1000000"
for n in $sizes; do
  make_machine "$work/xp$n" "$n" $((n / 100))
  measure "ferry extract, $n files" "$ferry" extract --machine "$work/xp$n" --store "$work/store$n" --program "$work/SE.fyb" --include-user 'OLDCORP\hdowd' --log-dir "$work/logs" --hide-status
  rm -rf "$work/xp$n" "$work/store$n"
done
[ -n "${BENCH_DIR:-}" ] || rm -rf "$work"
