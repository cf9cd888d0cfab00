#!/usr/bin/env bash
# Fetches kernel-hardening-checker without touching the system's apt configuration: it is not in
# Debian 12, but trixie-backports ships it as an arch-all .deb that needs only python3. apt-get
# runs with its own sources list, lists and cache under the Bunker cache directory; the mirror is
# the one already configured on this machine (no host name is written here).
# Prints the directory to put on PYTHONPATH; the program is <dir>/../../../bin/kernel-hardening-checker.
# Cached: ${XDG_CACHE_HOME:-$HOME/.cache}/bunker/khc/<version>/
set -euo pipefail
pkg=kernel-hardening-checker
suite=${KHC_SUITE:-trixie-backports}
base=${XDG_CACHE_HOME:-$HOME/.cache}/bunker/khc
say() { echo "kernel-check: $*" >&2; }

existing=$(ls -d "$base"/*/x/usr/lib/python3/dist-packages 2>/dev/null | sort -V | tail -1 || true)
if [ -n "$existing" ]; then echo "$existing"; exit 0; fi

# The Debian mirror this machine already uses (deb822 or one-line format).
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v -- '-security' | head -1 || true)
if [ -z "$mirror" ]; then
  mirror=$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v -- '-security' | head -1 || true)
fi
[ -n "$mirror" ] || { say "no Debian mirror found in /etc/apt/sources.list*"; exit 1; }

work=$base/apt
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/dl"
echo "deb $mirror $suite main" > "$work/sources.list"
opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
      -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Debug::NoLocking=1"
      -o "APT::Sandbox::User=root")
say "fetching $pkg from $suite (own apt lists under $work)"
apt-get "${opts[@]}" update -qq >&2
(cd "$work/dl" && apt-get "${opts[@]}" download -qq "$pkg" >&2)
deb=$(ls "$work/dl"/${pkg}_*.deb | sort -V | tail -1)
version=$(dpkg-deb -f "$deb" Version)
dest=$base/$version
rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
dpkg-deb -x "$deb" "$dest.tmp/x"
cp "$deb" "$dest.tmp/"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
say "cached $pkg $version in $dest"
echo "$dest/x/usr/lib/python3/dist-packages"
