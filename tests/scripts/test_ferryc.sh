#!/usr/bin/env bash
# ferryc's command line: compile writes the program beside the template, verify and disasm
# accept it, changed bytes make verify exit 3 with a message, lint reports planted errors at
# their exact file:line:col in text, JSON and SARIF, and a wrong command line exits 2.
set -euo pipefail
ferryc="$FERRY_BUILD_DIR/ferryc"
src="$FERRY_SOURCE_DIR"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0
check() { # check NAME EXPECTED-EXIT CMD...
  local name=$1 want=$2
  shift 2
  set +e
  "$@" >"$t/out" 2>"$t/err"
  local got=$?
  set -e
  if [ "$got" != "$want" ]; then
    echo "FAIL $name: exit $got, wanted $want"; cat "$t/out" "$t/err"; fails=$((fails + 1))
  fi
}
has() { # has NAME FILE TEXT
  grep -qF -- "$3" "$2" || { echo "FAIL $1: '$3' not in $2:"; cat "$2"; fails=$((fails + 1)); }
}

cp -r "$src/rules" "$t/rules"
check compile 0 "$ferryc" compile -A "$src/appdefs" "$t/rules/SE.cfg"
[ -s "$t/rules/SE.fyb" ] || { echo "FAIL compile: no SE.fyb"; fails=$((fails + 1)); }
check verify 0 "$ferryc" verify "$t/rules/SE.fyb"
check disasm 0 "$ferryc" disasm "$t/rules/SE.fyb"
has disasm "$t/out" "SE.rul:"
has disasm "$t/out" "HALT"

# changed bytes: every 97th byte, and the last one (the full sweep is in test_compile)
size=$(stat -c %s "$t/rules/SE.fyb")
for ((i = 0; i < size; i += 97)); do
  cp "$t/rules/SE.fyb" "$t/bad.fyb"
  printf '\xA5' | dd of="$t/bad.fyb" bs=1 seek="$i" conv=notrunc status=none
  cmp -s "$t/bad.fyb" "$t/rules/SE.fyb" && continue
  check "flip $i" 3 "$ferryc" verify "$t/bad.fyb"
  [ -s "$t/err" ] || { echo "FAIL flip $i: no message"; fails=$((fails + 1)); }
done
head -c 100 "$t/rules/SE.fyb" >"$t/short.fyb"
check truncated 3 "$ferryc" verify "$t/short.fyb"
check missing 3 "$ferryc" verify "$t/nope.fyb"

# lint: planted errors at exact positions
mkdir "$t/lint"
printf '[Policies]\nOverwrite Existing Files=Sometimes\n[Polices]\n[Registry Rules]\nInclude Branch=HKU\\x\n' >"$t/lint/SE.cfg"
printf 'include "<My Docs>" *\nexclude * *.pptx size>10MB size<1MB\ninclude "<Desktop>" *.doc\ninclude "<Desktop>" *\ninclude "*:\\" *\n' >"$t/lint/SE.rul"
printf 'Files|My Documents\nApplications|WinSCPP\n' >"$t/lint/SE.ptt"
check lint-errors 3 "$ferryc" lint -A "$src/appdefs" "$t/lint"
out="$t/out"
has lint "$out" "$t/lint/SE.cfg:2:26: error:"
has lint "$out" "[bad-value]"
has lint "$out" "$t/lint/SE.cfg:3:2: warning:"
has lint "$out" "[unknown-section]"
has lint "$out" "$t/lint/SE.cfg:5:16: error:"
has lint "$out" "[registry-root]"
has lint "$out" "$t/lint/SE.rul:1:10: error:"
has lint "$out" "[unknown-token]"
has lint "$out" "$t/lint/SE.rul:2:1: warning: this rule can never match"
has lint "$out" "$t/lint/SE.rul:3:1: warning: this rule never decides: the later rule at line 4"
has lint "$out" "$t/lint/SE.rul:5:1: warning:"
has lint "$out" "[whole-drive]"
has lint "$out" "$t/lint/SE.ptt:2:1: error: no application definition has the content path 'Applications|WinSCPP' (did you mean 'Applications|WinSCP'?) [unknown-ptt-path]"

check lint-json 3 "$ferryc" lint --format json -A "$src/appdefs" "$t/lint"
has json "$t/out" '"check": "unknown-ptt-path"'
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert isinstance(d, list) and d' "$t/out" ||
  { echo "FAIL json: not a JSON array"; fails=$((fails + 1)); }
check lint-sarif 3 "$ferryc" lint --format sarif -A "$src/appdefs" "$t/lint"
python3 - "$t/out" <<'PY' || { echo "FAIL sarif structure"; fails=$((fails + 1)); }
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == "2.1.0" and "$schema" in d
run = d["runs"][0]
assert run["tool"]["driver"]["name"] == "ferryc"
ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
for r in run["results"]:
    assert r["ruleId"] in ids and r["level"] in ("error", "warning", "note")
    loc = r["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] and loc["region"]["startLine"] >= 1
assert any(r["ruleId"] == "unknown-ptt-path" and r["locations"][0]["physicalLocation"]["region"]["startLine"] == 2 for r in run["results"])
PY
check lint-clean 0 "$ferryc" lint -A "$src/appdefs" "$src/rules" "$src/appdefs"
printf 'include "<Desktop>" *.doc\ninclude "<Desktop>" *\n' >"$t/w.rul"
check lint-warning 0 "$ferryc" lint "$t/w.rul"
check lint-werror 3 "$ferryc" lint --werror "$t/w.rul"

# wrong command lines
check no-command 2 "$ferryc"
check bad-command 2 "$ferryc" frobnicate
check bad-format 2 "$ferryc" lint --format xml "$t/w.rul"
check bad-option 2 "$ferryc" compile --nope "$t/rules/SE.cfg"
check bad-input 2 "$ferryc" compile "$t/w.rul"
check help 0 "$ferryc" --help
check version 0 "$ferryc" --version
has version "$t/out" "ferryc "

if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "test_ferryc: all checks passed"
