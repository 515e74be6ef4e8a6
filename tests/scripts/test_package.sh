#!/usr/bin/env bash
# The Debian package: configure a fresh build folder, build the programs and man pages,
# `cpack -G DEB`, check the package's control fields (name, maintainer, dependencies: every
# shared library the programs need comes from a package it depends on) and contents, unpack
# it with `dpkg -x` into a temporary root, and run what was installed from there:
# `se --version`, `ferry --version`, `ferryc compile` of the installed rules with the
# installed appdefs found by themselves (no FERRY_APPDEFS, run from outside the source tree),
# and the installed man pages. Skipped (exit 0, "skipped: ...") only when cpack or dpkg is
# missing.
set -euo pipefail
for tool in cpack dpkg dpkg-deb; do
  if ! command -v "$tool" >/dev/null; then
    echo "skipped: $tool is not installed"
    exit 0
  fi
done
src="$FERRY_SOURCE_DIR"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
unset FERRY_APPDEFS

# A build folder of its own (the project's default build type; the test's build folder
# may be a sanitizer build). The install step builds only what it installs.
cmake -S "$src" -B "$t/build" -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >"$t/log" 2>&1 ||
  { cat "$t/log"; exit 1; }
cmake --build "$t/build" -j2 --target ferry ferryc se ferry_man >"$t/log" 2>&1 || { tail -30 "$t/log"; exit 1; }
(cd "$t/build" && cpack -G DEB) >"$t/log" 2>&1 || { cat "$t/log"; exit 1; }
deb=$(ls "$t/build"/ferry_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { fail "cpack made no ferry_*.deb"; ls "$t/build"; exit 1; }

# ---- control fields ----
[ "$(dpkg-deb -f "$deb" Package)" = ferry ] || fail "Package is not ferry"
[ -n "$(dpkg-deb -f "$deb" Maintainer)" ] || fail "no Maintainer"
[ -n "$(dpkg-deb -f "$deb" Description)" ] || fail "no Description"
version=$(dpkg-deb -f "$deb" Version)
depends=$(dpkg-deb -f "$deb" Depends)
for p in libpcre2-8-0 libyaml-0-2 zlib1g libhivex0 libsodium23; do
  [[ ", $depends," == *", $p"[,\ ]* ]] || fail "Depends lacks $p: $depends"
done

# ---- contents, unpacked ----
root="$t/root"
dpkg -x "$deb" "$root"
for f in usr/bin/ferry usr/bin/ferryc usr/bin/se usr/share/ferry/rules/SE.cfg usr/share/ferry/rules/SE.rul \
  usr/share/ferry/rules/SE.ptt usr/share/doc/ferry/se.md usr/share/doc/ferry/agent.md \
  usr/share/man/man1/ferry.1.gz usr/share/man/man1/ferryc.1.gz usr/share/man/man1/se.1.gz \
  usr/share/man/man5/ferry-templates.5.gz; do
  [ -e "$root/$f" ] || fail "not in the package: /$f"
done
ls "$root"/usr/share/ferry/appdefs/*.yaml >/dev/null 2>&1 || fail "no appdefs in /usr/share/ferry/appdefs"
[ -f "$root/usr/share/doc/ferry/sccm.md" ] || fail "not in the package: /usr/share/doc/ferry/sccm.md"

# every shared library the programs need is in a package the package depends on
if command -v objdump >/dev/null; then
  for bin in ferry ferryc se; do
    for lib in $(objdump -p "$root/usr/bin/$bin" | awk '/NEEDED/ {print $2}'); do
      case "$lib" in libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | ld-linux*) continue ;; esac
      pkg=$(dpkg -S "$lib" 2>/dev/null | grep -v '^diversion' | head -1 | cut -d: -f1)
      if [ -z "$pkg" ]; then
        fail "$bin needs $lib, which no installed package provides"
      elif [[ ", $depends," != *", $pkg"[,\ ]* ]]; then
        fail "$bin needs $lib from $pkg, which Depends lacks ($depends)"
      fi
    done
  done
fi

# ---- the installed programs, run from a folder outside the source tree ----
mkdir -p "$t/work"
cd "$t/work"
out=$("$root/usr/bin/se" --version) || fail "se --version failed"
[ "$out" = "se $version" ] || fail "se --version: '$out' (wanted 'se $version')"
out=$("$root/usr/bin/ferry" --version) || fail "ferry --version failed"
[ "$out" = "ferry $version" ] || fail "ferry --version: '$out' (wanted 'ferry $version')"
if "$root/usr/bin/ferryc" compile -o "$t/work/SE.fyb" "$root/usr/share/ferry/rules/SE.cfg" >"$t/out" 2>&1; then
  "$root/usr/bin/ferryc" verify "$t/work/SE.fyb" >"$t/out" 2>&1 || fail "ferryc verify of the installed rules' program"
  # the .ptt selects applications: they came from the installed appdefs
  grep -Eq '[1-9][0-9]* applications' "$t/out" || fail "the compiled program has no applications: $(cat "$t/out")"
else
  fail "ferryc compile of the installed rules (appdefs not found?):"
  sed 's/^/    /' "$t/out"
fi
# se finds the installed template's appdefs too: a wrong switch is still exit 2
set +e
"$root/usr/bin/se" /NOSUCHSWITCH >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "installed se with a wrong switch: exit $rc"
if command -v man >/dev/null; then
  for p in man1/ferry.1 man1/ferryc.1 man1/se.1 man5/ferry-templates.5; do
    MANWIDTH=80 man -l "$root/usr/share/man/$p.gz" 2>"$t/err" | grep -q '^NAME' || fail "man -l $p.gz"
    [ ! -s "$t/err" ] || fail "man -l $p.gz: $(cat "$t/err")"
  done
fi

if [ "$fails" -gt 0 ]; then
  echo "$fails check(s) failed"
  exit 1
fi
echo "test_package: all checks passed ($(basename "$deb"))"
