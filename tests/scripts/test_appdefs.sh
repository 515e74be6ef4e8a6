#!/usr/bin/env bash
# The application library, end to end: every appdef in appdefs/ has at least one case in
# tests/appdefs/<id>/*.case (format: tests/appdefs/README.md). The sample machines are built
# once (scripts/make-sample-machines.sh); for each case the runner (appdefs_cases.py) copies
# them, gives OLDCORP\jsmith (XP) or NEWCORP\jsmith (Windows 10) the application's settings
# (a .reg fragment imported with `ferry reg import`, files written from a list, or a real
# fixture hive from shared/fixtures/hives in place of NTUSER.DAT), compiles a template whose
# SE.ptt selects that appdef, runs `ferry extract` and `ferry inject --domain OLDCORP:NEWCORP`
# into the Windows 10 sample, and checks the target: files byte-identical with their times,
# registry values at their (converted) location with exact types and data, read back with
# `ferry reg export`; what must not move is checked absent. Before the cases: every appdef
# passes `ferryc lint --werror`.
#
# FERRY_APPDEF_CASES=substring[,substring] runs only the matching cases (for debugging);
# FERRY_APPDEF_KEEP=DIR keeps the work folders there.
set -euo pipefail
ferry="$FERRY_BUILD_DIR/ferry"
ferryc="$FERRY_BUILD_DIR/ferryc"
src="$FERRY_SOURCE_DIR"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

# The whole library is lint-clean, warnings included.
if ! "$ferryc" lint --werror "$src/appdefs/" >"$t/lint" 2>&1; then
  echo "FAIL: ferryc lint --werror appdefs/"
  cat "$t/lint"
  exit 1
fi

FERRY_BIN="$ferry" bash "$src/scripts/make-sample-machines.sh" "$t/m" >/dev/null

args=(--machines "$t/m" --work "${FERRY_APPDEF_KEEP:-$t/work}")
[ -n "${FERRY_APPDEF_KEEP:-}" ] && args+=(--keep)
if [ -n "${FERRY_APPDEF_CASES:-}" ]; then
  IFS=, read -r -a only <<<"$FERRY_APPDEF_CASES"
  for o in "${only[@]}"; do args+=(--only "$o"); done
fi
python3 "$src/tests/scripts/appdefs_cases.py" "${args[@]}"
