#!/usr/bin/env bash
# `ferry reg export|import` end to end with the built binary: exit codes (0, 1, 2, 3, 6, 7)
# and messages for good and bad command lines, a corrupt hive (exit 6, no crash, nothing
# written), regedit-format output to a file and to stdout, KEY and --prefix, a bad .reg
# leaving the hive untouched, and import + export back (once the hive writer is built; with
# the placeholder writer the import must fail cleanly with exit 7 and leave the hive as it
# was). Under the sanitizer build, any ASan/UBSan report changes an exit code and fails it.
set -euo pipefail

FERRY="${FERRY_BUILD_DIR:?}/ferry"
HIVES="${FERRY_SHARED_DIR:?}/fixtures/hives"
T=$(mktemp -d "${TMPDIR:-/tmp}/ferry-reg-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0

for h in SAM NTUSER.DAT corrupted_system_hive; do xz -dc "$HIVES/$h.xz" > "$T/$h"; done

# expect CODE CMD...: runs CMD, keeps stdout in $T/out and stderr in $T/err.
expect() {
    local want=$1 got=0
    shift
    "$@" > "$T/out" 2> "$T/err" || got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: exit $got, expected $want: $*" >&2
        sed 's/^/  stderr: /' "$T/err" | head -20 >&2
        fails=$((fails + 1))
    fi
    return 0
}
has() { # has FILE TEXT
    if ! grep -qF -- "$2" "$1"; then
        echo "FAIL: $1 lacks: $2" >&2
        sed 's/^/  /' "$1" | head -10 >&2
        fails=$((fails + 1))
    fi
}
utf8() { iconv -f UTF-16LE -t UTF-8 "$1" | tr -d '\r'; }

# ---- command lines ----
expect 0 "$FERRY" --help && has "$T/out" "reg"
expect 0 "$FERRY" --version && has "$T/out" "ferry "
expect 2 "$FERRY" && has "$T/err" "Usage: ferry"
expect 2 "$FERRY" frobnicate && has "$T/err" 'unknown command "frobnicate"'
expect 0 "$FERRY" reg --help && has "$T/out" "ferry reg export HIVEFILE"
expect 2 "$FERRY" reg && has "$T/err" "export or import"
expect 2 "$FERRY" reg frob && has "$T/err" "unknown action"
expect 2 "$FERRY" reg export && has "$T/err" "which hive file"
expect 2 "$FERRY" reg export "$T/SAM" --bogus && has "$T/err" "unknown option --bogus"
expect 2 "$FERRY" reg export "$T/SAM" -o && has "$T/err" "needs a file name"
expect 2 "$FERRY" reg export "$T/SAM" a b c
expect 2 "$FERRY" reg import "$T/SAM" && has "$T/err" "needs HIVEFILE and FILE.reg"
expect 2 "$FERRY" reg export "$T/SAM" --create
expect 2 "$FERRY" reg import "$T/SAM" x.reg -o y.reg

# ---- a corrupt hive: exit 6, a clear message, no output file ----
expect 6 "$FERRY" reg export "$T/corrupted_system_hive" -o "$T/c.reg"
has "$T/err" "corrupted_system_hive: not a registry hive or damaged"
[ ! -e "$T/c.reg" ] || { echo "FAIL: c.reg written for a corrupt hive" >&2; fails=$((fails + 1)); }
ls "$T" | grep -q 'c.reg.tmp' && { echo "FAIL: temporary file left" >&2; fails=$((fails + 1)); }
expect 6 "$FERRY" reg export "$T/no-such-hive" && has "$T/err" "no-such-hive"
head -c 8192 "$T/SAM" > "$T/truncated"
expect 6 "$FERRY" reg export "$T/truncated" && has "$T/err" "truncated"

# ---- export ----
expect 0 "$FERRY" reg export "$T/SAM" -o "$T/sam.reg"
[ "$(head -c 2 "$T/sam.reg" | od -An -tx1 | tr -d ' ')" = fffe ] ||
    { echo "FAIL: no UTF-16LE BOM" >&2; fails=$((fails + 1)); }
utf8 "$T/sam.reg" > "$T/sam.txt"
has "$T/sam.txt" "Windows Registry Editor Version 5.00"
has "$T/sam.txt" '[HKEY_LOCAL_MACHINE\SAM]'
has "$T/sam.txt" '[HKEY_LOCAL_MACHINE\SAM\SAM\Domains\Account\Users\Names\Administrator]'
expect 0 "$FERRY" reg export "$T/SAM"
cmp -s "$T/out" "$T/sam.reg" || { echo "FAIL: stdout differs from -o" >&2; fails=$((fails + 1)); }
# KEY: any case, relative to the root or with the prefix; headers keep the stored case.
expect 0 "$FERRY" reg export "$T/SAM" 'sam\domains\ACCOUNT\users\names' -o "$T/names.reg"
utf8 "$T/names.reg" | sed -n 3p > "$T/first"
has "$T/first" '[HKEY_LOCAL_MACHINE\SAM\SAM\Domains\Account\Users\Names]'
expect 0 "$FERRY" reg export "$T/SAM" 'HKEY_LOCAL_MACHINE\SAM\SAM\Domains' --prefix 'HKEY_USERS\X'
utf8 "$T/out" | sed -n 3p > "$T/first"
has "$T/first" '[HKEY_USERS\X\SAM\Domains]'
expect 0 "$FERRY" reg export "$T/SAM" 'SAM\Domains' --prefix ''
utf8 "$T/out" | grep '^\[' > "$T/first"
has "$T/first" '[\SAM\Domains]'
has "$T/first" '[\SAM\Domains\Account]'
expect 6 "$FERRY" reg export "$T/SAM" 'No\Such\Key' && has "$T/err" 'no key "No\Such\Key"'
expect 7 "$FERRY" reg export "$T/SAM" -o "$T/missing-dir/x.reg" && has "$T/err" "missing-dir"
expect 0 "$FERRY" reg export "$T/NTUSER.DAT" 'Control Panel\Desktop' -o "$T/desk.reg"
utf8 "$T/desk.reg" | sed -n 3p > "$T/first"
has "$T/first" '[HKEY_CURRENT_USER\Control Panel\Desktop]'

# ---- import ----
sum_before=$(sha256sum "$T/SAM" | cut -d' ' -f1)
printf 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SAM\\x\r\n' > "$T/bad.reg"
expect 3 "$FERRY" reg import "$T/SAM" "$T/bad.reg"
has "$T/err" "bad.reg:3:"
has "$T/err" "missing ']'"
printf 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\x]\r\n' > "$T/wrong.reg"
expect 3 "$FERRY" reg import "$T/SAM" "$T/wrong.reg" && has "$T/err" "--prefix"
expect 6 "$FERRY" reg import "$T/no-such-hive" "$T/wrong.reg" && has "$T/err" "--create"
[ "$(sha256sum "$T/SAM" | cut -d' ' -f1)" = "$sum_before" ] ||
    { echo "FAIL: a failed import changed the hive" >&2; fails=$((fails + 1)); }

printf 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SAM\\FerryTest\\Sub]\r\n"v"=dword:0000002a\r\n' > "$T/good.reg"
got=0
"$FERRY" reg import "$T/SAM" "$T/good.reg" > "$T/out" 2> "$T/err" || got=$?
if [ "$got" = 7 ] && grep -q "not built yet" "$T/err"; then
    echo "note: hive writer is the placeholder: import fails cleanly (exit 7); round trip not checked"
    [ "$(sha256sum "$T/SAM" | cut -d' ' -f1)" = "$sum_before" ] ||
        { echo "FAIL: a failed commit changed the hive" >&2; fails=$((fails + 1)); }
    expect 7 "$FERRY" reg import "$T/new.dat" "$T/good.reg" --create --prefix 'HKEY_LOCAL_MACHINE\SAM'
    [ ! -e "$T/new.dat" ] || { echo "FAIL: new.dat left behind" >&2; fails=$((fails + 1)); }
elif [ "$got" = 0 ]; then
    expect 0 "$FERRY" reg export "$T/SAM" 'FerryTest' -o "$T/ft.reg"
    utf8 "$T/ft.reg" > "$T/ft.txt"
    has "$T/ft.txt" '[HKEY_LOCAL_MACHINE\SAM\FerryTest\Sub]'
    has "$T/ft.txt" '"v"=dword:0000002a'
    # the whole SAM: exported, imported into a new hive, exported again: same bytes
    expect 0 "$FERRY" reg import "$T/new.dat" "$T/sam.reg" --create --prefix 'HKEY_LOCAL_MACHINE\SAM'
    expect 0 "$FERRY" reg export "$T/new.dat" --prefix 'HKEY_LOCAL_MACHINE\SAM' -o "$T/sam2.reg"
    cmp "$T/sam.reg" "$T/sam2.reg" || { echo "FAIL: round trip differs" >&2; fails=$((fails + 1)); }
else
    echo "FAIL: import exited $got" >&2
    cat "$T/err" >&2
    fails=$((fails + 1))
fi

if [ "$fails" != 0 ]; then
    echo "$fails check(s) failed" >&2
    exit 1
fi
echo "test_reg_cli: all passed"
