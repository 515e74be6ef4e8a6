#!/usr/bin/env bash
# se end to end on the sample machines (scripts/make-sample-machines.sh): the Migrate7
# guide's four command lines unchanged apart from the program's path and /MACHINE (SE.cfg
# found in the current folder, /DATASTORE with spaces, /AUTOINJECT /ALLUSERS with /DOMAIN,
# /AUTOBACKUP making a second generation); /AUTOEXTRACT with no user switch taking the last
# logged-on user only; a volume whose last logged-on user is the built-in Administrator
# (exit 6, with a log); /AUTOINJECT of the logged-on user and /INJECTTOLOGGEDINUSER; SE.cfg
# beside the program; UNC data stores through FERRY_UNC_MAP; /PASSWORD masked; /IMPORT;
# wrong command lines (exit 2, nothing written).
set -euo pipefail
ferry="$FERRY_BUILD_DIR/ferry"
se="$FERRY_BUILD_DIR/se"
src="$FERRY_SOURCE_DIR"
source "$(dirname "$0")/harness.sh"
personalities() { # personalities STORE: "DOMAIN\user@COMPUTER gens" lines, sorted
  "$ferry" list --store "$1" --json | python3 -c '
import json,sys
for p in json.load(sys.stdin): print("%s\\%s@%s %d" % (p["domain"], p["user"], p["computer"], len(p["generations"])))' | sort
}

FERRY_BIN="$ferry" bash "$src/scripts/make-sample-machines.sh" "$t/m" >/dev/null
xp="$t/m/xp"
w10="$t/m/win10"
cp -a "$w10" "$t/w10.orig"
export FERRY_APPDEFS="$src/appdefs" FERRY_LOG_DIR="$t/logs"
unset FERRY_MACHINE FERRY_PASSWORD FERRY_UNC_MAP FERRY_IMAGE_ACCOUNTS FERRY_LOG_LEVEL FERRY_LOG_FORMAT

# The SCCM package: a folder holding the template, its Data Store Location a local folder.
pkg="$t/pkg"
mkdir -p "$pkg"
cp "$src/rules/SE.cfg" "$src/rules/SE.rul" "$src/rules/SE.ptt" "$pkg/"
sed -i "s|^Data Store Location=.*|Data Store Location=$t/store|" "$pkg/SE.cfg"
cd "$pkg"

# ---- 1. se /autoextract /allusers /hidestatus /nocancel (kiosk's Favorites are on a share: 1) ----
run "0|1" "$se" /autoextract /allusers /hidestatus /nocancel /MACHINE "$xp"
personalities "$t/store" >"$t/list"
[ "$(wc -l <"$t/list")" = 4 ] || fail "extract /allusers: 4 personalities expected: $(cat "$t/list")"
grep -qx 'OLDCORP\\hdowd@OLDPC01 1' "$t/list" || fail "hdowd's personality: $(cat "$t/list")"
ls "$t/logs"/OLDPC01_*_Ext.log >/dev/null 2>&1 || fail "no extraction log in FERRY_LOG_DIR"
grep -q 'Command line: .*/autoextract /allusers /hidestatus /nocancel' "$t/logs"/OLDPC01_*_Ext.log ||
  fail "the log header shows se's command line"
grep -q "Program: $pkg/SE.cfg" "$t/logs"/OLDPC01_*_Ext.log || fail "the log names the SE.cfg found in the current folder"

# ---- 2. the same with /datastore "<folder with spaces>" ----
run "0|1" "$se" /autoextract /allusers /hidestatus /nocancel /datastore "$t/my data store" /MACHINE "$xp"
[ "$(personalities "$t/my data store" | wc -l)" = 4 ] || fail "/datastore with spaces: 4 personalities expected"
# the /X:"..." form, with the quotes a caller may leave in
run "0|1" "$se" /AUTOEXTRACT /ALLUSERS /HIDESTATUS "/DATASTORE:\"$t/colon store\"" "/MACHINE=$xp"
[ "$(personalities "$t/colon store" | wc -l)" = 4 ] || fail "/DATASTORE:\"...\" form"

# ---- 3. se /autoinject /ALLUSERS /hidestatus /nocancel (only NEWCORP\jsmith has a SID: 1) ----
run "0|1" "$se" /autoinject /ALLUSERS /hidestatus /nocancel /DOMAIN OLDCORP:NEWCORP /MACHINE "$w10"
[ -f "$w10/Users/jsmith/Documents/Project Plan.docx" ] || fail "NEWCORP\\jsmith got no files"
cmp -s "$xp/Documents and Settings/jsmith/Docs/Project Plan.docx" "$w10/Users/jsmith/Documents/Project Plan.docx" ||
  fail "jsmith's Project Plan.docx differs"
ls "$t/logs"/NEWPC01_*_Inj.log >/dev/null 2>&1 || fail "no injection log"

# FERRY_SID_MAP gives a SID to a user the target has no profile for; FERRY_REPORT a summary
cp -a "$t/w10.orig" "$t/w10s"
printf 'OLDCORP\\hdowd,NEWCORP\\hdowd,S-1-5-21-1004336348-1177238915-682003330-1301\n' >"$t/sids.csv"
FERRY_SID_MAP="$t/sids.csv" FERRY_REPORT="$t/inj.json" \
  run 0 "$se" /AUTOINJECT /ALLUSERS /EXCLUDELOCAL /HIDESTATUS /DOMAIN OLDCORP:NEWCORP /MACHINE "$t/w10s"
[ -f "$t/w10s/Users/hdowd/Documents/Quarterly Report.docx" ] || fail "FERRY_SID_MAP: hdowd got no profile"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["operation"]=="inject" and d["exit_code"]==0 and len(d["users"])==2' "$t/inj.json" ||
  fail "FERRY_REPORT: no inject report with the exit code"

# ---- 4. se /AUTOBACKUP /ALLUSERS /hidestatus /nocancel: a second generation ----
echo "changed for the backup" >>"$xp/Documents and Settings/hdowd/Desktop/todo.txt"
run "0|1" "$se" /AUTOBACKUP /ALLUSERS /hidestatus /nocancel /MACHINE "$xp"
personalities "$t/store" >"$t/list"
grep -qx 'OLDCORP\\hdowd@OLDPC01 2' "$t/list" || fail "backup: hdowd should have 2 generations: $(cat "$t/list")"
ls "$t/logs"/OLDPC01_*_Bak.log >/dev/null 2>&1 || fail "no backup log"

# ---- /AUTOEXTRACT with no user switch: the last logged-on user (OLDCORP\hdowd) only ----
run 0 "$se" /AUTOEXTRACT /HIDESTATUS /NOCANCEL /DATASTORE "$t/one" /MACHINE "$xp"
[ "$(personalities "$t/one")" = 'OLDCORP\hdowd@OLDPC01 1' ] || fail "no user switch: only hdowd expected: $(personalities "$t/one")"
grep -q 'OLDCORP\\hdowd' "$t/err" || fail "se says which user it took"
# FERRY_MACHINE instead of /MACHINE; exclusions still apply on top of the logged-on user
FERRY_MACHINE="$xp" run 6 "$se" /AUTOEXTRACT /EXCLUDEUSER 'OLDCORP\hdowd' /DATASTORE "$t/none"
[ ! -e "$t/none" ] || fail "an empty selection wrote a store"

# ---- the built-in Administrator as the last logged-on user: exit 6, with a log ----
cp -a "$xp" "$t/xpadmin"
printf 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon]\r\n"DefaultUserName"="Administrator"\r\n"DefaultDomainName"="OLDPC01"\r\n' >"$t/admin.reg"
"$ferry" reg import "$t/xpadmin/WINDOWS/system32/config/software" "$t/admin.reg" >/dev/null 2>&1
"$ferry" machine --machine "$t/xpadmin" >"$t/machine.txt" 2>/dev/null || true
grep -q 'Last logged-on user: OLDPC01\\Administrator' "$t/machine.txt" ||
  fail "the edited volume's last user is not the Administrator"
mkdir -p "$t/adminlogs"
FERRY_LOG_DIR="$t/adminlogs" run 6 "$se" /AUTOEXTRACT /HIDESTATUS /DATASTORE "$t/admin-store" /MACHINE "$t/xpadmin"
grep -q 'Administrator' "$t/err" || fail "exit 6 names the Administrator"
grep -q '/ALLUSERS' "$t/err" && grep -q '/INCLUDEUSER' "$t/err" || fail "exit 6 says to use /ALLUSERS or /INCLUDEUSER"
[ ! -e "$t/admin-store" ] || fail "a refused run wrote a store"
ls "$t/adminlogs"/OLDPC01_*_Ext.log >/dev/null 2>&1 && grep -q 'RID 500' "$t/adminlogs"/OLDPC01_*_Ext.log ||
  fail "the refusal leaves a log with the reason"
# ... and accounts named by FERRY_IMAGE_ACCOUNTS are refused the same way
FERRY_IMAGE_ACCOUNTS='OLDCORP\hd*' run 6 "$se" /AUTOEXTRACT /DATASTORE "$t/admin-store" /MACHINE "$xp"
# /ALLUSERS still works on that volume
run "0|1" "$se" /AUTOEXTRACT /ALLUSERS /HIDESTATUS /DATASTORE "$t/admin-store" /MACHINE "$t/xpadmin"

# ---- /AUTOINJECT with no user switch: the target's logged-on user (NEWCORP\jsmith) only ----
cp -a "$t/w10.orig" "$t/w10b"
run 0 "$se" /AUTOINJECT /HIDESTATUS /DOMAIN OLDCORP:NEWCORP /MACHINE "$t/w10b"
grep -q 'NEWCORP\\jsmith' "$t/err" || fail "se says which user it took on the target"
[ -f "$t/w10b/Users/jsmith/Documents/Project Plan.docx" ] || fail "logged-on user injection: jsmith got no files"
[ ! -e "$t/w10b/Users/hdowd" ] || fail "logged-on user injection placed another user"
[ ! -e "$t/w10b/Users/jsmith/Documents/Quarterly Report.docx" ] || fail "hdowd's files went to jsmith"

# ---- /INJECTTOLOGGEDINUSER: hdowd's personality into the target's logged-on user ----
cp -a "$t/w10.orig" "$t/w10c"
run 0 "$se" /AUTOINJECT /INCLUDEUSER 'OLDCORP\hdowd' /INJECTTOLOGGEDINUSER /HIDESTATUS /MACHINE "$t/w10c"
cmp -s "$xp/Documents and Settings/hdowd/My Documents/Quarterly Report.docx" "$t/w10c/Users/jsmith/Documents/Quarterly Report.docx" ||
  fail "/INJECTTOLOGGEDINUSER: hdowd's Quarterly Report.docx not in jsmith's Documents"
[ ! -e "$t/w10c/Users/hdowd" ] || fail "/INJECTTOLOGGEDINUSER made hdowd's profile"

# ---- SE.cfg beside the program, from a folder without one ----
mkdir -p "$t/bin" "$t/empty"
cp "$se" "$t/bin/se"
cp "$pkg/SE.cfg" "$t/bin/se.cfg" # any case
cp "$pkg/SE.rul" "$pkg/SE.ptt" "$t/bin/"
cd "$t/empty"
run 0 "$t/bin/se" /AUTOEXTRACT /INCLUDEUSER 'OLDCORP\jsmith' /HIDESTATUS /DATASTORE "$t/beside" /MACHINE "$xp"
[ "$(personalities "$t/beside")" = 'OLDCORP\jsmith@OLDPC01 1' ] || fail "SE.cfg beside the program"
run 2 "$se" /AUTOEXTRACT /ALLUSERS /DATASTORE "$t/nocfg" /MACHINE "$xp"
grep -q 'SE.cfg' "$t/err" || fail "no SE.cfg: the message says so"
[ ! -e "$t/nocfg" ] || fail "no SE.cfg wrote a store"
# /CONFIG, relative, with the store from that template
before=$(personalities "$t/store" | grep 'jsmith@')
run 0 "$se" /AUTOEXTRACT /INCLUDEUSER 'OLDCORP\jsmith' /HIDESTATUS /CONFIG "../pkg/SE.cfg" /MACHINE "$xp"
after=$(personalities "$t/store" | grep 'jsmith@')
[ "${after##* }" = $((${before##* } + 1)) ] || fail "/CONFIG: a generation in its Data Store Location ($before -> $after)"
# a template that does not compile: exit 3
printf '[Policies]\nOverwrite Existing Files=Sometimes\n' >"$t/bad.cfg"
touch "$t/bad.rul" "$t/bad.ptt"
run 3 "$se" /AUTOEXTRACT /ALLUSERS /CONFIG "$t/bad.cfg" /DATASTORE "$t/bad" /MACHINE "$xp"
[ ! -e "$t/bad" ] || fail "a bad template wrote a store"
cd "$pkg"

# ---- UNC data stores through FERRY_UNC_MAP ----
sed "s|^Data Store Location=.*|Data Store Location=\\\\\\\\FileServer\\\\Migrate7\\\\personalities|" "$pkg/SE.cfg" >"$t/unc.cfg"
cp "$pkg/SE.rul" "$t/unc.rul"
cp "$pkg/SE.ptt" "$t/unc.ptt"
grep -q '^Data Store Location=\\\\FileServer\\Migrate7\\personalities$' "$t/unc.cfg" || fail "test setup: UNC location"
mkdir -p "$t/share"
FERRY_UNC_MAP="\\\\other\\x=/nonexistent;\\\\fileserver\\migrate7=$t/share" \
  run 0 "$se" /AUTOEXTRACT /INCLUDEUSER 'OLDCORP\jsmith' /HIDESTATUS /CONFIG "$t/unc.cfg" /MACHINE "$xp"
[ -d "$t/share/personalities/OLDCORP/jsmith/OLDPC01" ] || fail "UNC store mapped to $t/share/personalities"
run 2 "$se" /AUTOEXTRACT /ALLUSERS /CONFIG "$t/unc.cfg" /MACHINE "$xp"
grep -q 'FERRY_UNC_MAP' "$t/err" || fail "an unmapped UNC path: the message names FERRY_UNC_MAP"
FERRY_UNC_MAP="\\\\fs\\st=$t/share2" run 0 "$se" /AUTOEXTRACT /INCLUDEUSER 'OLDCORP\jsmith' /DATASTORE '\\FS\ST\a b' /MACHINE "$xp"
[ -d "$t/share2/a b/OLDCORP/jsmith" ] || fail "/DATASTORE UNC path mapped"
run 2 "$se" /AUTOEXTRACT /ALLUSERS /DATASTORE 'D:\Store' /MACHINE "$xp"

# ---- /PASSWORD: protected, masked in the log, warned about ----
mkdir -p "$t/pwlogs"
FERRY_LOG_DIR="$t/pwlogs" run 0 "$se" /AUTOEXTRACT /INCLUDEUSER 'OLDCORP\hdowd' /PASSWORD 'tr0ub4dor horse' /DATASTORE "$t/enc" /MACHINE "$xp"
grep -qi 'visible' "$t/err" || fail "/PASSWORD: no warning that it is visible"
grep -rqa 'tr0ub4dor' "$t/pwlogs" "$t/enc" && fail "the password in a log or the store"
grep -q 'Command line: .*/PASSWORD \*\*\*\*\*\*\*\*' "$t/pwlogs"/*.log || fail "the log shows /PASSWORD ********"
"$ferry" list --store "$t/enc" --json | grep -q '"encrypted": true' || fail "/PASSWORD: the personality is not encrypted"
cp -a "$t/w10.orig" "$t/w10d"
run 5 "$se" /AUTOINJECT /ALLUSERS /DOMAIN OLDCORP:NEWCORP /DATASTORE "$t/enc" /MACHINE "$t/w10d"
FERRY_PASSWORD='tr0ub4dor horse' run "0|1" "$se" /AUTOINJECT /ALLUSERS /DOMAIN OLDCORP:NEWCORP /DATASTORE "$t/enc" /MACHINE "$t/w10d"

# ---- /IMPORT: a personality folder into another store (no template needed) ----
cd "$t/empty"
run 0 "$se" /IMPORT "$t/store/OLDCORP/hdowd/OLDPC01" /DATASTORE "$t/imported"
[ "$(personalities "$t/imported")" = 'OLDCORP\hdowd@OLDPC01 2' ] || fail "/IMPORT: $(personalities "$t/imported")"
cd "$pkg"

# ---- CMTrace logs ----
mkdir -p "$t/cmlogs"
FERRY_LOG_DIR="$t/cmlogs" FERRY_LOG_FORMAT=cmtrace run 0 "$se" /AUTOEXTRACT /INCLUDEUSER 'OLDCORP\jsmith' /DATASTORE "$t/cm" /MACHINE "$xp"
grep -q '<!\[LOG\[' "$t/cmlogs"/*.log || fail "FERRY_LOG_FORMAT=cmtrace"
FERRY_LOG_FORMAT=xml run 2 "$se" /AUTOEXTRACT /ALLUSERS /DATASTORE "$t/cm" /MACHINE "$xp"

# ---- wrong command lines: exit 2, nothing written ----
run 2 "$se" /AUTOEXTRACT /ALLUSER /DATASTORE "$t/wrong" /MACHINE "$xp"
grep -q '/ALLUSERS' "$t/err" || fail "a wrong switch: the known ones are listed"
run 2 "$se" /AUTOEXTRACT /ALLUSERS /DATASTORE "$t/wrong"                 # no machine
run 2 "$se" /ALLUSERS /DATASTORE "$t/wrong" /MACHINE "$xp"               # nothing to do
run 2 "$se" /AUTOEXTRACT /AUTOINJECT /DATASTORE "$t/wrong" /MACHINE "$xp"
run 2 "$se" /AUTOEXTRACT /DOMAIN A:B /DATASTORE "$t/wrong" /MACHINE "$xp"
run 2 "$se" /AUTOEXTRACT /DATASTORE /MACHINE "$xp"
[ ! -e "$t/wrong" ] || fail "a wrong command line wrote a store"
run 0 "$se" /?
grep -q '/INJECTTOLOGGEDINUSER' "$t/out" || fail "/? lists the switches"
run 0 "$se" --version
grep -Eq '^se [0-9]+\.[0-9]+\.[0-9]+$' "$t/out" || fail "se --version: $(cat "$t/out")"

if [ "$fails" -gt 0 ]; then
  echo "$fails check(s) failed"
  exit 1
fi
echo "test_se_cli: all checks passed"
