#!/usr/bin/env bash
# `ferry machine` end to end on the sample machines: builds them with
# scripts/make-sample-machines.sh into a temp folder (and checks the script refuses a
# non-empty folder without --force, and that two builds give the same files), then checks
# the text and JSON output: on XP the OS, computer name, OLDCORP\hdowd / OLDCORP\jsmith /
# OLDPC01\kiosk with SIDs, profiles, last use, XP folders, jsmith's redirected My Documents,
# kiosk's unreachable Favorites; on Windows 10 the OS, NEWPC01, NEWCORP\jsmith and the
# Windows 10 folders; --drive; a hibernated copy; exit 2 for wrong command lines, 6 for a
# folder without Windows and for a corrupt SYSTEM hive. Under the sanitizer build any
# ASan/UBSan report changes an exit code and fails the test.
set -euo pipefail

FERRY="${FERRY_BUILD_DIR:?}/ferry"
SRC="${FERRY_SOURCE_DIR:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/ferry-machine-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
fails=0

expect() { # expect CODE CMD...: stdout in $T/out, stderr in $T/err
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
        fails=$((fails + 1))
    fi
}
hasnt() {
    if grep -qF -- "$2" "$1"; then
        echo "FAIL: $1 has: $2" >&2
        fails=$((fails + 1))
    fi
}
# jq-like checks with python: jcheck FILE 'python expression over j' [description]
jcheck() {
    if ! python3 - "$1" "$2" << 'PY'; then
import json, sys
j = json.load(open(sys.argv[1], encoding='utf-8'))
users = {u['account']: u for u in j['users']}
ok = eval(sys.argv[2])
sys.exit(0 if ok else 1)
PY
        echo "FAIL: JSON check: $2" >&2
        fails=$((fails + 1))
    fi
}

# ---- the sample machines ----
export FERRY_BIN="$FERRY"
S="$T/samples"
expect 0 bash "$SRC/scripts/make-sample-machines.sh" "$S"
expect 2 bash "$SRC/scripts/make-sample-machines.sh" "$S" && has "$T/err" "not empty"
expect 2 bash "$SRC/scripts/make-sample-machines.sh" && has "$T/err" "which OUTDIR"
expect 2 bash "$SRC/scripts/make-sample-machines.sh" --bogus "$T/x"
# reproducible: a second build gives the same files, times included
expect 0 bash "$SRC/scripts/make-sample-machines.sh" "$T/again"
# names, types, sizes and link targets of everything; times of the files the manifests date
# (hives hold their build time inside, so only their names and sizes are compared)
listing() {
    (cd "$1" && find . \( -type f ! -iname '*.dat' ! -iname software ! -iname system \
        ! -iname sam -printf '%p %s %T@\n' \) -o -printf '%p %y %s %l\n' | LC_ALL=C sort)
}
sums() { (cd "$1" && find . -type f ! -iname '*.dat' ! -iname software ! -iname system \
    ! -iname sam -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
if [ "$(listing "$S")" != "$(listing "$T/again")" ] || [ "$(sums "$S")" != "$(sums "$T/again")" ]; then
    echo "FAIL: two builds of the sample machines differ" >&2
    diff <(listing "$S") <(listing "$T/again") | head >&2 || true
    fails=$((fails + 1))
fi
expect 0 bash "$SRC/scripts/make-sample-machines.sh" --force "$T/again"
big="$S/xp/Documents and Settings/hdowd/My Documents/Sales Kickoff.pptx"
if [ ! -f "$big" ] || [ "$(stat -c %s "$big")" -le 10485760 ]; then
    echo "FAIL: the 12 MB presentation is missing" >&2
    fails=$((fails + 1))
fi
long=$(cd "$S/xp" && find . -name 'final budget*' | head -1)
[ "${#long}" -gt 260 ] || { echo "FAIL: no path over 260 characters" >&2; fails=$((fails + 1)); }
[ "$(date -u -r "$S/xp/Documents and Settings/hdowd/My Documents/Old Memo.doc" +%F)" = 1999-12-31 ] ||
    { echo "FAIL: Old Memo.doc's time" >&2; fails=$((fails + 1)); }
[ -L "$S/win10/Users/jsmith/Application Data" ] ||
    { echo "FAIL: the compatibility junction is missing" >&2; fails=$((fails + 1)); }

# ---- XP ----
expect 0 "$FERRY" machine --machine "$S/xp"
X="$T/xp.txt"
cp "$T/out" "$X"
has "$X" "OS:             Windows XP (Microsoft Windows XP), version 5.1, build 2600, Service Pack 3"
has "$X" "Computer name:  OLDPC01"
hasnt "$X" "STALE-LKG-NAME"
has "$X" "Domain:         OLDCORP"
has "$X" "Time zone:      Eastern Standard Time (UTC-05:00; bias 300 minutes)"
has "$X" "Hibernated:     no"
has "$X" "Last logged-on user: OLDCORP\\hdowd (S-1-5-21-3623811015-3361044348-30300820-1105)"
has "$X" "Users: 4"
has "$X" "  OLDCORP\\hdowd"
has "$X" "  OLDCORP\\jsmith"
has "$X" "  OLDPC01\\kiosk"
has "$X" "  OLDPC01\\Administrator"
has "$X" "S-1-5-21-3623811015-3361044348-30300820-1107 (domain)"
has "$X" "S-1-5-21-1390067357-1202660629-682003330-1003 (local)"
has "$X" "S-1-5-21-1390067357-1202660629-682003330-500 (local, built-in Administrator)"
has "$X" "Profile:      C:\\Documents and Settings\\hdowd"
has "$X" "Last use:     2026-05-28T17:45:00Z  (NTUSER.DAT modification time)"
has "$X" "Last use:     2026-04-15T16:20:00Z"
has "$X" "<My Documents>             C:\\Documents and Settings\\hdowd\\My Documents  (default)"
has "$X" "<My Pictures>              C:\\Documents and Settings\\hdowd\\My Documents\\My Pictures  (default)"
has "$X" "<Local Application Data>   C:\\Documents and Settings\\hdowd\\Local Settings\\Application Data  (default)"
has "$X" "<Downloads>                (none on this OS)"
has "$X" "<My Documents>             C:\\Documents and Settings\\jsmith\\Docs  (redirected)"
has "$X" "<My Pictures>              C:\\Documents and Settings\\jsmith\\Docs\\My Pictures  (redirected)"
has "$X" "<Favorites>                \\\\server\\share\\kiosk\\Favorites  (unreachable"
has "$X" "UsrClass.dat: $S/xp/Documents and Settings/hdowd/Local Settings/Application Data/Microsoft/Windows/UsrClass.dat"
has "$X" "NTUSER.DAT:   $S/xp/Documents and Settings/jsmith/NTUSER.DAT"
has "$X" "<ProgramData>              C:\\Documents and Settings\\All Users\\Application Data  (default)"
has "$T/err" "kiosk's <Favorites> is \\\\server\\share\\kiosk\\Favorites"
hasnt "$X" "NT AUTHORITY" # service accounts: verbose only
expect 0 "$FERRY" machine --machine "$S/xp" --verbose
has "$T/out" "NT AUTHORITY\\LOCAL SERVICE"
has "$T/out" "kiosk                    RID 1003"

expect 0 "$FERRY" machine --machine "$S/xp" --json
cp "$T/out" "$T/xp.json"
python3 -m json.tool "$T/xp.json" > /dev/null || { echo "FAIL: XP JSON does not parse" >&2; fails=$((fails + 1)); }
jcheck "$T/xp.json" "j['os']['name'] == 'Windows XP' and j['os']['version'] == '5.1' and j['os']['build'] == 2600"
jcheck "$T/xp.json" "j['computer_name'] == 'OLDPC01' and j['system_drive'] == 'C:' and j['hibernated'] is False"
jcheck "$T/xp.json" "j['time_zone']['bias_minutes'] == 300"
jcheck "$T/xp.json" "sorted(users) == ['OLDCORP\\\\hdowd', 'OLDCORP\\\\jsmith', 'OLDPC01\\\\Administrator', 'OLDPC01\\\\kiosk']"
jcheck "$T/xp.json" "users['OLDCORP\\\\hdowd']['sid'] == 'S-1-5-21-3623811015-3361044348-30300820-1105' and users['OLDCORP\\\\hdowd']['type'] == 'domain'"
jcheck "$T/xp.json" "users['OLDPC01\\\\kiosk']['type'] == 'local' and users['OLDPC01\\\\Administrator']['builtin_administrator']"
jcheck "$T/xp.json" "users['OLDCORP\\\\hdowd']['last_use'] == '2026-05-28T17:45:00Z' and users['OLDCORP\\\\hdowd']['last_logged_on']"
jcheck "$T/xp.json" "j['last_logged_on_user']['account'] == 'OLDCORP\\\\hdowd'"
jcheck "$T/xp.json" "users['OLDCORP\\\\hdowd']['profile'] == 'C:\\\\Documents and Settings\\\\hdowd'"
jcheck "$T/xp.json" "users['OLDCORP\\\\hdowd']['known_folders']['My Documents'] == {'path': 'C:\\\\Documents and Settings\\\\hdowd\\\\My Documents', 'state': 'default', 'default': 'C:\\\\Documents and Settings\\\\hdowd\\\\My Documents', 'registry': '%USERPROFILE%\\\\My Documents'}"
jcheck "$T/xp.json" "users['OLDCORP\\\\hdowd']['known_folders']['Downloads']['state'] == 'none' and users['OLDCORP\\\\hdowd']['known_folders']['Downloads']['path'] is None"
jcheck "$T/xp.json" "users['OLDCORP\\\\jsmith']['known_folders']['My Documents']['state'] == 'redirected' and users['OLDCORP\\\\jsmith']['known_folders']['My Documents']['path'].endswith('jsmith\\\\Docs')"
jcheck "$T/xp.json" "users['OLDPC01\\\\kiosk']['known_folders']['Favorites']['state'] == 'unreachable'"
jcheck "$T/xp.json" "j['machine_folders']['Program Files']['path'] == 'C:\\\\Program Files'"
jcheck "$T/xp.json" "any('Favorites' in w for w in j['warnings'])"
jcheck "$T/xp.json" "'system_accounts' not in j"

# ---- Windows 10 ----
expect 0 "$FERRY" machine --machine "$S/win10"
W="$T/w10.txt"
cp "$T/out" "$W"
has "$W" "OS:             Windows 10 (Windows 10 Enterprise), version 10.0, build 19045, 22H2"
has "$W" "Computer name:  NEWPC01"
has "$W" "Users: 1"
has "$W" "  NEWCORP\\jsmith"
has "$W" "S-1-5-21-1004336348-1177238915-682003330-1201 (domain, last logged on)"
has "$W" "Last use:     2026-05-29T16:00:00Z  (ProfileList LocalProfileUnloadTime)"
has "$W" "Profiles:       C:\\Users (new profiles from C:\\Users\\Default)"
has "$W" "<My Documents>             C:\\Users\\jsmith\\Documents  (default)"
has "$W" "<Downloads>                C:\\Users\\jsmith\\Downloads  (default)"
has "$W" "<Application Data>         C:\\Users\\jsmith\\AppData\\Roaming  (default)"
has "$W" "<Program Files (x86)>      C:\\Program Files (x86)  (default)"
has "$W" "UsrClass.dat: $S/win10/Users/jsmith/AppData/Local/Microsoft/Windows/UsrClass.dat"
hasnt "$W" "(redirected)"
[ ! -s "$T/err" ] || { echo "FAIL: warnings on the Windows 10 sample:" >&2; cat "$T/err" >&2; fails=$((fails + 1)); }
expect 0 "$FERRY" machine --json --machine="$S/win10" -v
cp "$T/out" "$T/w10.json"
jcheck "$T/w10.json" "j['os']['name'] == 'Windows 10' and j['os']['build'] == 19045 and j['computer_name'] == 'NEWPC01'"
jcheck "$T/w10.json" "list(users) == ['NEWCORP\\\\jsmith'] and users['NEWCORP\\\\jsmith']['known_folders']['My Pictures']['path'] == 'C:\\\\Users\\\\jsmith\\\\Pictures'"
jcheck "$T/w10.json" "[a['name'] for a in j['local_accounts']] == ['Administrator', 'DefaultAccount', 'Guest', 'WDAGUtilityAccount']"
jcheck "$T/w10.json" "j['default_profile'] == 'C:\\\\Users\\\\Default'"

# JSON escaping: a volume folder whose name has a quote, a backslash, a tab, non-ASCII text
# and a byte that is not UTF-8
odd="$T/we\"ird\\ $(printf '\t')dír $(printf '\377')"
cp -a "$S/win10" "$odd"
expect 0 "$FERRY" machine --machine "$odd" --json
python3 -m json.tool "$T/out" > /dev/null || { echo "FAIL: JSON for an odd folder name does not parse" >&2; fails=$((fails + 1)); }
jcheck "$T/out" "j['machine'] == '$T/we\"ird\\\\ \\tdír \\ufffd' and users['NEWCORP\\\\jsmith']['ntuser_dat'].startswith(j['machine'])"
rm -rf "$odd"

# --drive: another volume
mkdir -p "$T/ddrive"
expect 0 "$FERRY" machine --machine "$S/win10" --drive "d=$T/ddrive" --json
jcheck "$T/out" "[d['letter'] for d in j['drives']] == ['C:', 'D:'] and j['drives'][1]['path'] == '$T/ddrive'"
expect 6 "$FERRY" machine --machine "$S/win10" --drive "C=$T/ddrive" && has "$T/err" "already"
expect 6 "$FERRY" machine --machine "$S/win10" --drive "E=$T/no-such" && has "$T/err" "no-such"

# a hibernated copy (hiberfil.sys written into a copy, never into the samples)
cp -a "$S/win10" "$T/hib"
printf 'HIBR' > "$T/hib/hiberfil.sys"
head -c 4092 /dev/zero >> "$T/hib/hiberfil.sys"
expect 0 "$FERRY" machine --machine "$T/hib"
has "$T/out" "Hibernated:     YES"
expect 0 "$FERRY" machine --machine "$T/hib" --json
jcheck "$T/out" "j['hibernated'] is True"

# ---- command lines and bad volumes ----
expect 0 "$FERRY" machine --help && has "$T/out" "Usage: ferry machine --machine DIR"
expect 0 "$FERRY" --help && has "$T/out" "machine"
expect 2 "$FERRY" machine && has "$T/err" "give --machine DIR"
expect 2 "$FERRY" machine --machine && has "$T/err" "needs a folder"
expect 2 "$FERRY" machine --machine "$S/xp" --bogus && has "$T/err" "unknown option --bogus"
expect 2 "$FERRY" machine --machine "$S/xp" extra && has "$T/err" "unexpected argument extra"
expect 2 "$FERRY" machine --machine "$S/xp" --machine "$S/win10" && has "$T/err" "twice"
expect 2 "$FERRY" machine --machine "$S/xp" --drive D && has "$T/err" "LETTER=FOLDER"
expect 2 "$FERRY" machine --machine "$S/xp" --drive "D=$T" --drive "d=$T" && has "$T/err" "given twice"
[ ! -s "$T/out" ] || { echo "FAIL: output on a wrong command line" >&2; fails=$((fails + 1)); }
mkdir -p "$T/empty/Windows"
expect 6 "$FERRY" machine --machine "$T/empty" && has "$T/err" "no Windows here"
has "$T/err" "Windows\\System32"
expect 6 "$FERRY" machine --machine "$T/nonexistent"
cp -a "$S/win10" "$T/corrupt"
xz -dc "${FERRY_SHARED_DIR:?}/fixtures/hives/corrupted_system_hive.xz" > "$T/corrupt/Windows/System32/config/SYSTEM"
expect 6 "$FERRY" machine --machine "$T/corrupt" && has "$T/err" "the SYSTEM hive cannot be read"
[ ! -s "$T/out" ] || { echo "FAIL: output for a corrupt machine" >&2; fails=$((fails + 1)); }

if [ "$fails" -gt 0 ]; then
    echo "$fails check(s) failed" >&2
    exit 1
fi
echo "all ferry machine checks passed"
