#!/usr/bin/env bash
# The man pages in man/ render without a single groff warning (groff -ww, and man-db's
# `man --warnings -l`), have the sections a page needs (NAME, SYNOPSIS, DESCRIPTION,
# FILES, SEE ALSO; for commands also OPTIONS and EXIT STATUS), carry the version the
# programs print, and se.1 names every switch `se /?` lists.
set -euo pipefail
src="$FERRY_SOURCE_DIR"
build="$FERRY_BUILD_DIR"
for tool in groff man; do
  command -v "$tool" >/dev/null || { echo "test_man: $tool is missing (scripts/setup.sh installs groff-base and man-db)"; exit 1; }
done
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
version=$("$build/ferry" --version | awk '{print $2}')
pages=(ferry.1 ferryc.1 se.1 ferry-templates.5)
for p in "${pages[@]}"; do
  f="$src/man/$p"
  [ -f "$f" ] || { fail "missing man page $p"; continue; }
  groff -ww -man -Tutf8 "$f" >"$t/out" 2>"$t/err" || fail "$p: groff failed"
  [ ! -s "$t/err" ] || { fail "$p: groff warnings:"; sed 's/^/    /' "$t/err"; }
  MANWIDTH=80 man --warnings -l "$f" >"$t/man" 2>"$t/err" || fail "$p: man -l failed"
  [ ! -s "$t/err" ] || { fail "$p: man warnings:"; sed 's/^/    /' "$t/err"; }
  want=(NAME SYNOPSIS DESCRIPTION FILES "SEE ALSO")
  case "$p" in *.1) want+=(OPTIONS "EXIT STATUS") ;; esac
  for s in "${want[@]}"; do
    grep -q "^$s\$" "$t/man" || fail "$p: no $s section"
  done
  grep -q "^\.TH .*\"ferry $version\"" "$f" || fail "$p: .TH does not say ferry $version"
done
# se.1 documents every switch se knows
"$build/se" /? >"$t/help"
MANWIDTH=200 man -l "$src/man/se.1" >"$t/se.txt" 2>/dev/null
for sw in $(grep -o '^  /[A-Z?]*' "$t/help"); do
  grep -qwF -- "$sw" "$t/se.txt" || fail "se.1 does not document $sw"
done
# ferry.1 names every ferry command
for cmd in $("$build/ferry" --help | awk '/^Commands:/{on=1; next} on && /^  [a-z]/ {print $1}'); do
  grep -q "ferry $cmd" "$src/man/ferry.1" || fail "ferry.1 does not show 'ferry $cmd'"
done
if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "test_man: all checks passed"
