#!/usr/bin/env bash
# The main job end to end on the sample machines (scripts/make-sample-machines.sh): extract
# every user of the XP volume, inject into the Windows 10 volume, and check what moved:
# files byte-identical with their times where Windows 10 keeps them, excluded files absent,
# remaps honoured, registry values type-exact, paths and OLDCORP\user rewritten inside
# strings, the overwrite policy, undo; then passwords (exit 5, target unchanged, no
# plaintext in the store), crash safety (SIGKILL at many points), write faults (exit 7),
# concurrency (20 agents into one store), dry runs, backups and restore.
set -euo pipefail
ferry="$FERRY_BUILD_DIR/ferry"
ferryc="$FERRY_BUILD_DIR/ferryc"
src="$FERRY_SOURCE_DIR"
source "$(dirname "$0")/harness.sh"
same_file() { # same_file SRC DST: byte-identical, same modification time
  if [ ! -f "$2" ]; then fail "missing: $2"; return; fi
  cmp -s "$1" "$2" || fail "content differs: $2"
  [ "$(stat -c %Y "$1")" = "$(stat -c %Y "$2")" ] || fail "mtime differs: $2"
}
absent() { [ ! -e "$1" ] || fail "should not be there: $1"; }
reg_text() { # reg_text HIVE: the hive as UTF-8 .reg text
  "$ferry" reg export "$1" -o "$t/x.reg" >/dev/null && iconv -f UTF-16LE -t UTF-8 "$t/x.reg" | tr -d '\r'
}

FERRY_BIN="$ferry" bash "$src/scripts/make-sample-machines.sh" "$t/m" >/dev/null
xp="$t/m/xp"
w10="$t/m/win10"
hd="$xp/Documents and Settings/hdowd"
"$ferryc" compile -A "$src/appdefs" -o "$t/SE.fyb" "$src/rules/SE.cfg" 2>/dev/null
# the overwrite policy: an older copy of a file the target already has
printf 'old version\n' >"$xp/Documents and Settings/jsmith/Docs/existing.docx"
touch -d 2020-01-01T00:00:00Z "$xp/Documents and Settings/jsmith/Docs/existing.docx"
cp -a "$w10" "$t/w10.orig"

# ---- extract (kiosk's Favorites are on a share: skipped with a warning, exit 1) ----
run 1 "$ferry" extract --machine "$xp" --store "$t/st" --program "$t/SE.fyb" --log-dir "$t/logs" --hide-status --report "$t/ext.json"
grep -q 'Favorites' "$t/err" || fail "no warning about kiosk's unreachable Favorites"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["operation"]=="extract" and len(d["users"])==4' "$t/ext.json" || fail "extract report"
ls "$t/logs"/OLDPC01_*_Ext.log >/dev/null || fail "no extraction log named COMPUTER_date_time_Ext.log"
[ -d "$t/st/OLDCORP/hdowd/OLDPC01" ] || fail "store layout STORE/DOMAIN/user/COMPUTER"
run 0 "$ferry" list --store "$t/st"
grep -q 'jsmith' "$t/out" || fail "list"
run 0 "$ferry" verify --store "$t/st"

# ---- inject ----
sid=S-1-5-21-1111111111-2222222222-3333333333-1201
run 0 "$ferry" inject --machine "$w10" --store "$t/st" --domain OLDCORP:NEWCORP \
  --user-map "OLDCORP\\hdowd=NEWCORP\\howard.dowd=$sid" --exclude-local --log-dir "$t/logs" --hide-status
nh="$w10/Users/howard.dowd"
same_file "$hd/My Documents/Quarterly Report.docx" "$nh/Documents/Quarterly Report.docx"
same_file "$hd/My Documents/Résumé – José.docx" "$nh/Documents/Résumé – José.docx"
same_file "$hd/My Documents/日本語.txt" "$nh/Documents/日本語.txt"
same_file "$hd/My Documents/Old Memo.doc" "$nh/Documents/Old Memo.doc"
same_file "$hd/My Documents/Sales Kickoff.pptx" "$nh/Documents/Sales Kickoff.pptx"
long="Projects/2009/Client Archive - Northwind Traders Incorporated/Correspondence and Signed Contracts (Originals)/Quarterly Reviews and Board Meeting Minutes/Supporting Material for the Annual Budget Planning Cycle/final budget v12 (approved by the board).xlsx"
same_file "$hd/My Documents/$long" "$nh/Documents/$long"
same_file "$hd/My Documents/My Pictures/beach.bmp" "$nh/Pictures/beach.bmp"
same_file "$hd/Desktop/todo.txt" "$nh/Desktop/todo.txt"
same_file "$hd/Favorites/Links/Weather.url" "$nh/Favorites/Links/Weather.url"
same_file "$hd/Application Data/Microsoft/Templates/Normal.dot" "$nh/AppData/Roaming/Microsoft/Templates/Normal.dot"
same_file "$xp/Project Files/Ledger/ledger.mdb" "$nh/Documents/Project Files/Ledger/ledger.mdb"
absent "$nh/Documents/draft.tmp"
absent "$nh/Documents/~\$arterly Report.docx"
absent "$nh/Pictures/Thumbs.db"
absent "$nh/Music/song.mp3"
absent "$nh/Documents/My Music"
absent "$w10/Users/kiosk"
# If Newer: the target's newer existing.docx stays
cmp -s "$t/w10.orig/Users/jsmith/Documents/existing.docx" "$w10/Users/jsmith/Documents/existing.docx" ||
  fail "If Newer replaced the target's newer existing.docx"
same_file "$xp/Documents and Settings/jsmith/Docs/Project Plan.docx" "$w10/Users/jsmith/Documents/Project Plan.docx"
# a new profile made from Default, registered in ProfileList
reg_text "$w10/Windows/System32/config/SOFTWARE" >"$t/soft.txt"
grep -qi "ProfileList\\\\$sid\]" "$t/soft.txt" || fail "ProfileList entry for the new profile"
grep -q '"ProfileImagePath"=hex(2)' "$t/soft.txt" || fail "ProfileImagePath is REG_EXPAND_SZ"
# the registry, type-exact, converted and translated
reg_text "$nh/NTUSER.DAT" >"$t/hd.txt"
grep -q '^\[HKEY_CURRENT_USER\\Software\\Microsoft\\Office\\16.0\\Word\\Options\]' "$t/hd.txt" || fail "Office 11.0 -> 16.0"
grep -q 'Office\\11.0\\Word' "$t/hd.txt" && fail "Office 11.0 keys left unconverted"
grep -q '"DOC-PATH"="C:\\\\Users\\\\howard.dowd\\\\Documents"' "$t/hd.txt" || fail "path inside a string not translated"
grep -q '"AutoRecoverMinutes"=dword:0000000a' "$t/hd.txt" || fail "DWORD not type-exact"
grep -q '"UserName"="NEWCORP\\\\howard.dowd"' "$t/hd.txt" || fail "OLDCORP\\hdowd not rewritten"
grep -q '"Wallpaper"="C:\\\\Users\\\\howard.dowd\\\\Pictures\\\\beach.bmp"' "$t/hd.txt" || fail "wallpaper path"
grep -q 'SimonTatham\\PuTTY\\Sessions\\web01' "$t/hd.txt" || fail "PuTTY session"
grep -q 'SshHostKeys' "$t/hd.txt" && fail "PuTTY host keys should be excluded by SE.cfg"
grep -q '"RecentFolders"=hex(7)' "$t/hd.txt" || fail "REG_MULTI_SZ type"
for f in "$nh"/NTUSER.DAT.LOG1 "$nh"/ntuser.dat.LOG1; do absent "$f"; done
# the rewritten hive lets its user in (an independent reader decodes the root's descriptor)
reglookup -s -t KEY "$nh/NTUSER.DAT" 2>/dev/null | sed -n 2p | grep -q "^/,KEY,.*,$sid,$sid,,$sid:ALLOW:QRY_VAL SET_VAL" ||
  fail "NTUSER.DAT's root descriptor does not give $sid full control"

# ---- undo ----
run 0 "$ferry" inject --undo --machine "$w10" --store "$t/st" --include-user 'NEWCORP\jsmith'
absent "$w10/Users/jsmith/Documents/Project Plan.docx"
absent "$w10/Users/jsmith/Documents/Project Files"   # a folder the injection made
cmp -s "$t/w10.orig/Users/jsmith/NTUSER.DAT" "$w10/Users/jsmith/NTUSER.DAT" || fail "undo did not put jsmith's hive back"

# ---- dry run: nothing written ----
run 1 "$ferry" extract --dry-run --machine "$xp" --store "$t/dry" --program "$t/SE.fyb" --log-dir "$t/logs"
absent "$t/dry"
grep -q 'would take' "$t/out" || fail "dry run says what it would take"

# ---- no matching user ----
run 6 "$ferry" extract --machine "$xp" --store "$t/none" --program "$t/SE.fyb" --include-user 'NOBODY\x' --log-dir "$t/logs"
run 2 "$ferry" extract --machine "$xp" --store "$t/none" --log-dir "$t/logs"
run 6 "$ferry" extract --machine "$t" --store "$t/none" --program "$t/SE.fyb" --log-dir "$t/logs"

# ---- bad inputs: each a clear error with its documented exit code, nothing written ----
printf 'not a program' >"$t/bad.fyb"
run 3 "$ferry" extract --machine "$xp" --store "$t/bad1" --program "$t/bad.fyb" --log-dir "$t/logs"
grep -q 'bad.fyb' "$t/err" || fail "a bad program is named in the error"
absent "$t/bad1"
printf 'include "<My Docs>" *\n' >"$t/SE.rul"
printf '[Policies]\n' >"$t/SE.cfg"
run 3 "$ferry" extract --machine "$xp" --store "$t/bad2" --config "$t/SE.cfg" --log-dir "$t/logs"
grep -q 'SE.rul:1:' "$t/err" || fail "a template error is shown with file:line:col"
absent "$t/bad2"
run 4 "$ferry" restore --store "$t/st" --user 'NOBODY\x' --to "$t/r0"
run 4 "$ferry" list --store "$t/no-such-store"
cp -a "$t/w10.orig" "$t/hib"
printf 'HIBR' >"$t/hib/hiberfil.sys"
head -c 4096 /dev/zero >>"$t/hib/hiberfil.sys"
(cd "$t/hib" && find . -type f -exec sha256sum {} + | sort) >"$t/hib.before"
run 6 "$ferry" inject --machine "$t/hib" --store "$t/st" --domain OLDCORP:NEWCORP --log-dir "$t/logs"
grep -qi 'hibernated' "$t/err" || fail "hibernated target: no reason given"
(cd "$t/hib" && find . -type f -exec sha256sum {} + | sort) >"$t/hib.after"
cmp -s "$t/hib.before" "$t/hib.after" || fail "a hibernated target was written"
cp -r "$t/st" "$t/damaged"
obj=$(find "$t/damaged/OLDCORP/hdowd/OLDPC01/objects" -type f | head -1)
printf '\xff' | dd of="$obj" bs=1 seek=40 conv=notrunc status=none
run 4 "$ferry" verify --store "$t/damaged"
grep -q 'DAMAGED' "$t/out" || fail "verify names the damaged object"

# ---- passwords ----
printf 's3cret-horse\n' >"$t/pw"
run 0 "$ferry" extract --machine "$xp" --store "$t/enc" --program "$t/SE.fyb" --include-user 'OLDCORP\hdowd' --password-file "$t/pw" --log-dir "$t/logs"
cp -a "$t/w10.orig" "$t/w10b"
(cd "$t/w10b" && find . -type f -exec sha256sum {} + | sort) >"$t/before"
run 5 "$ferry" inject --machine "$t/w10b" --store "$t/enc" --domain OLDCORP:NEWCORP --log-dir "$t/logs"
printf 'wrong\n' >"$t/pw2"
run 5 "$ferry" inject --machine "$t/w10b" --store "$t/enc" --domain OLDCORP:NEWCORP --password-file "$t/pw2" --log-dir "$t/logs"
(cd "$t/w10b" && find . -type f -exec sha256sum {} + | sort) >"$t/after"
cmp -s "$t/before" "$t/after" || fail "a failed password changed the target"
grep -rqa 'call Jane about the ledger' "$t/enc" && fail "plaintext of a file in the encrypted store"
grep -rqa 'todo.txt' "$t/enc" && fail "a file name in the encrypted store"
grep -rqa 's3cret-horse' "$t/logs" "$t/enc" && fail "the password in a log"
FERRY_PASSWORD=s3cret-horse run 0 "$ferry" verify --store "$t/enc"
run 0 "$ferry" verify --store "$t/enc"

# ---- crash safety: SIGKILL at many points, then verify and a rerun ----
for delay in 0.01 0.03 0.05 0.08 0.12 0.2 0.3; do
  "$ferry" extract --machine "$xp" --store "$t/crash" --program "$t/SE.fyb" --log-dir "$t/logs" --hide-status >/dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ -d "$t/crash" ]; then run 0 "$ferry" verify --store "$t/crash"; fi
done
run 1 "$ferry" extract --machine "$xp" --store "$t/crash" --program "$t/SE.fyb" --log-dir "$t/logs" --hide-status
run 0 "$ferry" verify --store "$t/crash"

# ---- write faults: a file size limit makes the store unwritable mid-way ----
set +e
(trap '' XFSZ; ulimit -f 64; exec "$ferry" extract --machine "$xp" --store "$t/small" --program "$t/SE.fyb" --include-user 'OLDCORP\hdowd' --log-dir "$t/logs" --hide-status) >/dev/null 2>&1
got=$?
set -e
[ "$got" = 7 ] || fail "write fault: exit $got, wanted 7"
if [ -d "$t/small" ]; then run 0 "$ferry" verify --store "$t/small"; fi

# ---- concurrency: 20 agents, different personalities, one store ----
for i in 1 2 3 4 5; do
  cp -a "$xp" "$t/xp$i"
  printf 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n"ComputerName"="OLDPC1%s"\r\n' "$i" >"$t/cn.reg"
  "$ferry" reg import "$t/xp$i/WINDOWS/system32/config/system" "$t/cn.reg" >/dev/null 2>&1
done
pids=()
for i in 1 2 3 4 5; do
  for u in 'OLDCORP\hdowd' 'OLDCORP\jsmith' 'OLDPC1'"$i"'\kiosk' 'OLDPC1'"$i"'\Administrator'; do
    "$ferry" extract --machine "$t/xp$i" --store "$t/many" --program "$t/SE.fyb" --include-user "$u" --log-dir "$t/logs" --hide-status >/dev/null 2>&1 &
    pids+=($!)
  done
done
bad=0
for p in "${pids[@]}"; do wait "$p" || { c=$?; [ "$c" = 1 ] || bad=$((bad + 1)); }; done
[ "$bad" = 0 ] || fail "$bad of 20 concurrent extractions failed"
run 0 "$ferry" verify --store "$t/many"
n=$("$ferry" list --store "$t/many" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 20 ] || fail "20 personalities expected, found $n"
# two agents on the same personality: each finishes or is refused (exit 4); none corrupts it
"$ferry" extract --machine "$xp" --store "$t/same" --program "$t/SE.fyb" --include-user 'OLDCORP\hdowd' --log-dir "$t/logs" >/dev/null 2>&1 &
p1=$!
"$ferry" extract --machine "$xp" --store "$t/same" --program "$t/SE.fyb" --include-user 'OLDCORP\hdowd' --log-dir "$t/logs" >/dev/null 2>&1 &
p2=$!
for p in $p1 $p2; do wait "$p" || { c=$?; [[ "$c" =~ ^(1|4)$ ]] || fail "same personality: exit $c"; }; done
run 0 "$ferry" verify --store "$t/same"

# ---- backup and restore ----
echo "changed" >>"$hd/Desktop/todo.txt"
touch -d 2026-11-20T00:00:00Z "$hd/Desktop/todo.txt"
run 0 "$ferry" backup --machine "$xp" --store "$t/st" --include-user 'OLDCORP\hdowd' --log-dir "$t/logs" --hide-status
gens=$("$ferry" list --store "$t/st" --json | python3 -c 'import json,sys; print([len(p["generations"]) for p in json.load(sys.stdin) if p["user"]=="hdowd"][0])')
[ "$gens" = 2 ] || fail "backup: 2 generations expected, found $gens"
run 0 "$ferry" restore --store "$t/st" --user 'OLDCORP\hdowd' --at 1 --to "$t/r1" '*todo.txt'
grep -q changed "$t/r1/Desktop/todo.txt" && fail "restore --at 1 gave the new content"
run 0 "$ferry" restore --store "$t/st" --user 'OLDCORP\hdowd' --to "$t/r2" '*todo.txt'
grep -q changed "$t/r2/Desktop/todo.txt" || fail "restore of the latest generation"

harness_done test_e2e
