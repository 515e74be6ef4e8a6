#!/usr/bin/env bash
# The main job on the bundled sample machines: sets up (Debian packages) and builds, makes
# an XP source volume and a Windows 10 target volume from the text fixtures in
# tests/machines/, extracts every user of the XP volume into a store, injects them into the
# Windows 10 volume (OLDCORP -> NEWCORP), and shows what moved. Everything it makes is under
# build/demo/ (removed and made again on each run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
ferry=build/ferry
demo=build/demo
rm -rf "$demo"
mkdir -p "$demo"
FERRY_BIN="$ferry" bash scripts/make-sample-machines.sh "$demo/machines" >/dev/null
echo "== the source: an XP volume"
"$ferry" machine --machine "$demo/machines/xp" 2>/dev/null | sed -n '1,12p'

echo
echo "== ferryc compile rules/SE.cfg"
build/ferryc compile -o "$demo/SE.fyb" rules/SE.cfg

echo
echo "== ferry extract (every user of the XP volume)"
set +e
"$ferry" extract --machine "$demo/machines/xp" --store "$demo/store" --program "$demo/SE.fyb" \
  --log-dir "$demo/logs" --hide-status
echo "exit code $? (1: kiosk's Favorites are on a network share, skipped with a warning)"
set -e
"$ferry" list --store "$demo/store"

echo
echo "== ferry inject into the Windows 10 volume (OLDCORP -> NEWCORP; hdowd becomes howard.dowd)"
"$ferry" inject --machine "$demo/machines/win10" --store "$demo/store" --domain OLDCORP:NEWCORP \
  --user-map 'OLDCORP\hdowd=NEWCORP\howard.dowd=S-1-5-21-1111111111-2222222222-3333333333-1201' \
  --exclude-local --log-dir "$demo/logs" --hide-status --report "$demo/inject.json"
echo "exit code $?"

echo
echo "== what moved: files of NEWCORP\\howard.dowd on the Windows 10 volume"
(cd "$demo/machines/win10/Users/howard.dowd" &&
  find Documents Desktop Favorites Pictures AppData/Roaming/Microsoft/Templates -type f \
    ! -name '.ferry-*' ! -name 'desktop.ini' 2>/dev/null | sort | sed 's/^/  /')
echo
echo "== what moved: settings in his NTUSER.DAT (Office 2003 -> 2016, paths and domain rewritten)"
"$ferry" reg export "$demo/machines/win10/Users/howard.dowd/NTUSER.DAT" 'Software\Microsoft\Office\16.0\Word\Options' \
  -o "$demo/word.reg" && iconv -f UTF-16LE -t UTF-8 "$demo/word.reg" | tr -d '\r' | grep -v '^$' | head -8
"$ferry" reg export "$demo/machines/win10/Users/howard.dowd/NTUSER.DAT" 'Network' -o "$demo/net.reg" &&
  iconv -f UTF-16LE -t UTF-8 "$demo/net.reg" | tr -d '\r' | grep -E 'UserName|RemotePath'
"$ferry" reg export "$demo/machines/win10/Users/howard.dowd/NTUSER.DAT" 'Control Panel\Desktop' -o "$demo/desk.reg" &&
  iconv -f UTF-16LE -t UTF-8 "$demo/desk.reg" | tr -d '\r' | grep -E 'Wallpaper"'
echo
echo "Logs: $demo/logs   Store: $demo/store   Report: $demo/inject.json"
