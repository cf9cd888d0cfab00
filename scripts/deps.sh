#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine: Debian packages through
# apt-get (only the ones missing) and the npm packages of package.json (only when absent or stale).
# Idempotent and quiet when everything is already there. Usage: scripts/deps.sh [apt|npm|all]
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

# Debian packages, grouped by what needs them.
APT_PKGS=(
  # image build: squashfs, cpio, compression, ISO, GRUB for BIOS and UEFI, the pre-init shim
  squashfs-tools cpio zstd xz-utils xorriso grub-pc-bin grub-efi-amd64-bin grub-common mtools musl-tools
  # the dm-verity hash tree of the root (veritysetup)
  cryptsetup-bin
  # kernel build from Debian's source
  linux-source bc flex bison libelf-dev libssl-dev build-essential
  # boots
  qemu-system-x86 qemu-utils ovmf ipxe-qemu
  # independent verifiers: disks, certificates, gRPC peer, DHCP server, time server
  gdisk fdisk parted dosfstools e2fsprogs xfsprogs openssl python3-grpcio python3-grpc-tools
  dnsmasq-base iproute2 chrony
  # shells whose completion scripts the tests load
  zsh fish
  # the dashboard's tests drive it in a terminal (send-keys, capture-pane)
  tmux
  # benchmark floor: the same kernel booting a busybox initramfs
  busybox-static
  # etcd on control planes (container mode runs the host's), etcdctl as the independent check in tests
  etcd-server etcd-client
  # benchmarks: peak RSS of one command
  time
)

need_apt() {
  local missing=()
  for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    # chrony's package starts a daemon on the host; the tests start their own on loopback.
    systemctl disable --now chrony >/dev/null 2>&1 || pkill -x chronyd 2>/dev/null || true
    # etcd-server's package starts etcd on the host too; the nodes run their own.
    systemctl disable --now etcd >/dev/null 2>&1 || true
  fi
}

need_npm() {
  local stamp=node_modules/.deps-stamp
  local want
  want=$(sha256sum package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x node_modules/.bin/bun ]; then
    echo "deps: installing npm packages" >&2
    # `npm install` rather than `npm ci`: npm ci rejects this lock file over the per-platform
    # optional packages of rust-just and bun that npm itself leaves out of it.
    npm install --no-audit --no-fund --loglevel=error >&2
    echo "$want" > "$stamp"
  fi
}

case "$what" in
  apt) need_apt ;;
  npm) need_npm ;;
  all) need_apt; need_npm ;;
  *) echo "usage: scripts/deps.sh [apt|npm|all]" >&2; exit 2 ;;
esac
