#!/usr/bin/env bash
# Builds Bunker's kernel from Debian's linux-source: tinyconfig + kernel-config/bunker.fragment,
# olddefconfig, then a check that every option of the fragment kept its value (olddefconfig
# silently drops options whose dependencies are missing), then bzImage.
#
# The result is cached outside the clone by a content hash of (fragment, this script, the
# linux-source tarball), so tests and CI build it once:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/bunker/kernel/<hash>/{bzImage,config}
# Usage: kernel-config/build.sh [--config-only] [--print-dir]
#   --config-only  stop after the checked .config (fast: for kernel-check and editing the fragment)
#   --print-dir    print only the cache directory of the result on stdout (for other scripts)
# Environment: BUNKER_LINUX_SOURCE=path/to/linux-source-X.tar.xz overrides the newest in /usr/src;
#   BUNKER_KERNEL_FRAGMENT=FILE uses another fragment (tests).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fragment=${BUNKER_KERNEL_FRAGMENT:-$here/bunker.fragment}
config_only=0
print_dir=0
for a in "$@"; do
  case "$a" in
    --config-only) config_only=1 ;;
    --print-dir) print_dir=1 ;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kernel: unknown argument '$a' (see --help)" >&2; exit 2 ;;
  esac
done
say() { echo "kernel: $*" >&2; }

tarball=${BUNKER_LINUX_SOURCE:-$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -1)}
if [ -z "$tarball" ] || [ ! -f "$tarball" ]; then
  say "no linux-source tarball in /usr/src (apt-get install linux-source, or scripts/deps.sh apt)"
  exit 1
fi
cache=${XDG_CACHE_HOME:-$HOME/.cache}/bunker/kernel
mkdir -p "$cache"

# The source is identified by its tarball's digest (cached by path+size+mtime: hashing 138 MB
# takes a second, and this script runs before every image build).
stat_key=$(stat -c '%n %s %Y' "$tarball")
src_sum_file=$cache/source-digests
src_sum=$(grep -F "$stat_key " "$src_sum_file" 2>/dev/null | tail -1 | awk '{print $NF}' || true)
if [ -z "$src_sum" ]; then
  src_sum=$(sha256sum "$tarball" | cut -c1-64)
  echo "$stat_key $src_sum" >> "$src_sum_file"
fi
hash=$( { sha256sum < "$fragment"; sha256sum < "$0"; echo "$src_sum"; } | sha256sum | cut -c1-16)
out=$cache/$hash
done_already() { [ -f "$out/bzImage" ] || { [ "$config_only" = 1 ] && [ -f "$out/config" ]; }; }
if done_already; then
  [ "$print_dir" = 1 ] && echo "$out" || say "cached: $out"
  exit 0
fi
# One build of a configuration at a time: two (test files, an image build beside the suite)
# would configure and compile into the same folder and spoil each other. The second waits for
# the first and then takes its result.
exec 9>"$cache/.lock-$hash"
if ! flock -n 9; then
  say "another build of $hash is running; waiting for it"
  flock 9
fi
if done_already; then
  [ "$print_dir" = 1 ] && echo "$out" || say "cached: $out"
  exit 0
fi

# One extracted tree per source; each configuration builds out of tree in its own directory.
src=$cache/src-${src_sum:0:16}
if [ ! -f "$src/.extracted" ]; then
  say "extracting $(basename "$tarball") (about 10 s)"
  rm -rf "$src.tmp" && mkdir -p "$src.tmp"
  tar -xf "$tarball" -C "$src.tmp" --strip-components=1
  touch "$src.tmp/.extracted"
  rm -rf "$src" && mv "$src.tmp" "$src"
fi
build=$cache/build-$hash
mkdir -p "$build"
# Fixed build identity: the same inputs give the same bzImage.
export KBUILD_BUILD_TIMESTAMP="1970-01-01 00:00:00 UTC" KBUILD_BUILD_USER=bunker KBUILD_BUILD_HOST=bunker KBUILD_BUILD_VERSION=1
mk() { make -s -C "$src" O="$build" "$@"; }

say "configuring: tinyconfig + $(grep -c '^CONFIG_' "$fragment") options"
mk tinyconfig >/dev/null
# Fragment lines -> .config syntax ("=n" is written the way Kconfig spells "not set").
sed -n 's/^\(CONFIG_[A-Z0-9_]*\)=\([^#]*[^# ]\) *\(#.*\)\{0,1\}$/\1=\2/p' "$fragment" |
  sed 's/^\(CONFIG_[A-Z0-9_]*\)=n$/# \1 is not set/' >> "$build/.config"
mk olddefconfig > "$build/config.log" 2>&1 || { cat "$build/config.log" >&2; exit 1; }

# Every option must have kept its value: name the ones olddefconfig dropped or changed.
dropped=()
while IFS= read -r line; do
  name=${line%%=*}
  want=${line#*=}
  got=$(grep -E "^$name=" "$build/.config" | head -1 | cut -d= -f2- || true)
  if [ "$want" = n ]; then
    [ -z "$got" ] || dropped+=("$name: wanted unset, got $got")
  elif [ "$got" != "$want" ]; then
    dropped+=("$name: wanted $want, got ${got:-unset}")
  fi
done < <(sed -n 's/^\(CONFIG_[A-Z0-9_]*\)=\([^#]*[^# ]\) *\(#.*\)\{0,1\}$/\1=\2/p' "$fragment")
if [ ${#dropped[@]} -gt 0 ]; then
  say "olddefconfig did not keep ${#dropped[@]} option(s) of $(basename "$fragment") (missing dependency or wrong name):"
  printf '  %s\n' "${dropped[@]}" >&2
  exit 1
fi
say "configuration checked: every option of the fragment is set as asked"

mkdir -p "$out.tmp"
cp "$build/.config" "$out.tmp/config"
if [ "$config_only" = 1 ]; then
  rm -rf "$out" && mv "$out.tmp" "$out"
  [ "$print_dir" = 1 ] && echo "$out" || say "config: $out/config"
  exit 0
fi

jobs=$(nproc)
say "building bzImage with -j$jobs (about 5-10 min on 2 cores; log: $build/build.log)"
start=$(date +%s)
mk -j"$jobs" bzImage > "$build/build.log" 2>&1 &
pid=$!
# Progress: objects compiled so far, every 15 s, so a long build is visibly alive.
while kill -0 "$pid" 2>/dev/null; do
  sleep 15
  kill -0 "$pid" 2>/dev/null || break
  n=$(find "$build" -name '*.o' -newer "$out.tmp/config" 2>/dev/null | wc -l)
  say "  ... $((($(date +%s) - start))) s, $n objects"
done
if ! wait "$pid"; then
  say "bzImage build failed; last lines of $build/build.log:"
  tail -30 "$build/build.log" >&2
  exit 1
fi
cp "$build/arch/x86/boot/bzImage" "$out.tmp/bzImage"
# A previously completed --config-only result is replaced by the full one.
rm -rf "$out" && mv "$out.tmp" "$out"
say "built in $(($(date +%s) - start)) s: $out/bzImage ($(stat -c %s "$out/bzImage") bytes)"
[ "$print_dir" = 1 ] && echo "$out"
exit 0
