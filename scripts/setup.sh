#!/usr/bin/env bash
# Installs the Debian packages ferry builds, tests and benchmarks with (as root, Debian 12).
# Safe to run again: it only installs what is missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libpcre2-dev libyaml-dev zlib1g-dev libcmocka-dev libhivex-dev libhivex-bin
      libwin-hivex-perl libsodium-dev liblzma-dev xz-utils reglookup libregf-utils
      python3 groff-base man-db)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
