# Shared by the end-to-end scripts (sourced, not a test itself): a temporary folder $t
# removed on exit, a failure counter, and `run EXPECTED-EXIT(S) CMD...` which runs a
# command with its output in $t/out and $t/err and counts a failure when its exit code is
# not one of EXPECTED ("0|1"). Scripts end with `harness_done NAME`.
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
run() {
  local want=$1
  shift
  set +e
  "$@" >"$t/out" 2>"$t/err"
  local got=$?
  set -e
  if ! [[ "$got" =~ ^($want)$ ]]; then
    fail "exit $got (wanted $want): $*"
    sed 's/^/    /' "$t/out" "$t/err" | head -20
  fi
  return 0
}
harness_done() {
  if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed"; exit 1; fi
  echo "$1: all checks passed"
}
