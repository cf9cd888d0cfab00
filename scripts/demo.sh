#!/usr/bin/env bash
# One command from a fresh clone to a running Bunker node in QEMU, driven from this machine.
#
#   bash scripts/demo.sh          install what is missing, build the binary and the image,
#                                 generate a cluster config into out/demo/, boot a node in QEMU
#                                 (background), apply the config, show `version` and `services`
#   bash scripts/demo.sh stop     power the node off through its API (QEMU is killed if it does
#                                 not end within a minute)
#   bash scripts/demo.sh status   is it running, and where
#
# Environment: DEMO_DIR (configs, pidfile, console log; default out/demo), DEMO_PORT (the host
# port forwarded to the node's API; default 50000, else a free one), DEMO_MEMORY (MiB, default
# 512), DEMO_ACCEL (default tcg; kvm where /dev/kvm works), DEMO_BOOT_TIMEOUT (seconds, 600).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO=${DEMO_DIR:-$ROOT/out/demo}
mkdir -p "$DEMO"
DEMO=$(cd "$DEMO" && pwd)
PIDFILE=$DEMO/qemu.pid
PORTFILE=$DEMO/port
CONSOLE=$DEMO/console.log
BUNKER=$ROOT/out/bunker
BUNKERCTL=$DEMO/bin/bunkerctl

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

stop() {
  if ! running; then
    rm -f "$PIDFILE"
    echo "demo: no node running"
    return 0
  fi
  local pid port
  pid=$(cat "$PIDFILE")
  port=$(cat "$PORTFILE" 2>/dev/null || echo 50000)
  say "powering the node off (bunkerctl shutdown)"
  BUNKERCONFIG=$DEMO/bunkerconfig "$BUNKERCTL" shutdown --timeout 20s -e "127.0.0.1:$port" || true
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "demo: QEMU still running after 60 s; killing it (pid $pid)"
    kill "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  echo "demo: stopped"
}

status() {
  if running; then
    echo "demo: node running (QEMU pid $(cat "$PIDFILE")), API on 127.0.0.1:$(cat "$PORTFILE"), console log $CONSOLE"
  else
    echo "demo: no node running"
  fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
  local p=${DEMO_PORT:-50000}
  if port_free "$p"; then echo "$p"; return; fi
  [ -n "${DEMO_PORT:-}" ] && die "port $p on 127.0.0.1 is taken (DEMO_PORT)"
  for p in $(seq 50001 50100); do port_free "$p" && { echo "$p"; return; }; done
  die "no free port between 50000 and 50100 on 127.0.0.1"
}

# Polls `bunkerctl version` until it answers; shows the console's latest line meanwhile.
wait_api() {
  local what=$1; shift
  local limit=${DEMO_BOOT_TIMEOUT:-600} start=$SECONDS last=""
  while ! "$BUNKERCTL" version --timeout 5s "$@" >/dev/null 2>&1; do
    running || { tail -n 30 "$CONSOLE" >&2; die "QEMU exited; the console's end is above (full log: $CONSOLE)"; }
    if [ $((SECONDS - start)) -ge "$limit" ]; then
      tail -n 30 "$CONSOLE" >&2
      die "$what: no answer within $limit s (console: $CONSOLE)"
    fi
    local line
    line=$(grep -a '\[bunker\]\|\[preinit\]' "$CONSOLE" 2>/dev/null | tail -n 1 | cut -c1-100 || true)
    if [ -n "$line" ] && [ "$line" != "$last" ]; then printf '    %3ds  %s\n' $((SECONDS - start)) "$line"; last=$line; fi
    sleep 1
  done
  printf '    %3ds  %s\n' $((SECONDS - start)) "$what: the API answers"
}

start() {
  if running; then
    status
    echo "demo: already running; 'bash scripts/demo.sh stop' first to start over"
    return 0
  fi
  say "installing what is missing (scripts/deps.sh)"
  if [ "$(id -u)" = 0 ]; then bash scripts/deps.sh all; else bash scripts/deps.sh npm; echo "demo: not root: Debian packages not checked (run 'sudo bash scripts/deps.sh apt' if a tool is missing)"; fi

  say "building the binary (out/bunker)"
  node_modules/.bin/bun scripts/build.ts

  say "building the image (out/image; the kernel is built once and cached)"
  node_modules/.bin/bun rootfs/build/main.ts --out out/image --no-iso

  mkdir -p "$DEMO/bin"
  ln -sf "$BUNKER" "$BUNKERCTL"
  local port
  port=$(pick_port)
  echo "$port" > "$PORTFILE"

  if [ ! -f "$DEMO/controlplane.yaml" ]; then
    say "generating a cluster config into out/demo/"
    "$BUNKERCTL" gen config demo https://10.0.2.15:50000 --additional-sans 127.0.0.1 --output-dir "$DEMO"
  else
    say "reusing the cluster config in out/demo/ (delete the folder for a new one)"
  fi
  # The node is reached through QEMU's port forward: point the client config at it.
  "$BUNKERCTL" config endpoint "127.0.0.1:$port" --bunkerconfig "$DEMO/bunkerconfig" >/dev/null
  "$BUNKERCTL" config node "127.0.0.1:$port" --bunkerconfig "$DEMO/bunkerconfig" >/dev/null

  say "booting a node in QEMU (${DEMO_ACCEL:-tcg}, ${DEMO_MEMORY:-512} MiB; API on 127.0.0.1:$port; console in out/demo/console.log)"
  : > "$CONSOLE"
  # -daemonize: QEMU detaches and writes its own pidfile once the VM is set up. A guest reboot
  # restarts the VM; a guest power-off ends QEMU.
  qemu-system-x86_64 -accel "${DEMO_ACCEL:-tcg}" -cpu max -m "${DEMO_MEMORY:-512}" -smp 1 \
    -display none -monitor none -serial "file:$CONSOLE" -daemonize -pidfile "$PIDFILE" \
    -kernel out/image/vmlinuz -initrd out/image/initramfs.zst \
    -append "console=tty0 console=ttyS0,115200" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:50000" -device virtio-net-pci,netdev=n0

  say "waiting for the node's API (maintenance mode: no config yet)"
  wait_api "maintenance mode" --insecure -e "127.0.0.1:$port"

  say "applying the config: bunkerctl apply-config --insecure -f out/demo/controlplane.yaml"
  "$BUNKERCTL" apply-config --insecure -e "127.0.0.1:$port" -f "$DEMO/controlplane.yaml" | head -n 1

  say "waiting for the API with the cluster's certificates"
  export BUNKERCONFIG=$DEMO/bunkerconfig
  wait_api "configured"

  say "bunkerctl version"
  "$BUNKERCTL" version
  say "bunkerctl services"
  "$BUNKERCTL" services

  cat <<EOF

The node is running in the background (QEMU pid $(cat "$PIDFILE"), console: out/demo/console.log).
Drive it from this machine:

  export BUNKERCONFIG=$DEMO/bunkerconfig
  export PATH=$DEMO/bin:\$PATH
  bunkerctl get addresses          # also: get links, get hostname, get rd (every type)
  bunkerctl logs networkd          # a service's log; dmesg for the kernel's
  bunkerctl ps; bunkerctl memory
  bunkerctl apply-config --mode live -f out/demo/controlplane.yaml   # after editing it
  bunkerctl reboot --wait

Stop it:  bash scripts/demo.sh stop
EOF
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  -h|--help|help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$1' (start, stop, status)" ;;
esac
