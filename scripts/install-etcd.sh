#!/usr/bin/env bash
# Installs Debian's etcd-server (the `etcd` binary) for the HA soak (make soak-ha,
# driver/etcd/soak). Does nothing when an etcd is already on PATH or in
# /usr/bin. Unlike install-chromium.sh it fails (exit 1) when it cannot
# install, saying why: `make soak-ha` cannot run without a real etcd cluster.
# The soak's short test in make test skips, printing the same reason, when
# this script fails (it runs it with CKPT_INSTALL_ETCD_QUIET=1).
#
# Debian bookworm ships etcd 3.4.23. The etcd module's client (v3.7) talks to a
# 3.4 server for everything the coordinator and the soak use: KV, guarded
# transactions, leases and their expiry, concurrency.Election, Status, and a
# watch from revision 1 (checked against 3.4.23; README "High availability").
set -uo pipefail
say() { echo "install-etcd: $*"; }
for c in etcd /usr/bin/etcd; do
  if command -v "$c" >/dev/null 2>&1; then
    say "$("$c" --version 2>/dev/null | head -1 || echo "$c") already installed"
    exit 0
  fi
done
if [ "$(id -u)" != 0 ]; then
  say "etcd is not on PATH and this is not root, so apt-get cannot install etcd-server; install it by hand (apt-get install etcd-server) or put an etcd 3.4+ on PATH"
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "etcd is not on PATH and this machine has no apt-get; put an etcd 3.4+ on PATH"
  exit 1
fi
log=${TMPDIR:-/tmp}/install-etcd.log
say "apt-get install etcd-server (Debian's etcd; under a minute)"
# The Debian package starts an etcd service on install where systemd runs;
# policy-rc.d 101 keeps it from starting one (the soak starts its own members).
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
fi
ok=1
{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server; } >"$log" 2>&1 || ok=0
[ "$made_policy" = 1 ] && rm -f "$policy"
if [ "$ok" = 0 ]; then
  say "apt-get install etcd-server failed (see $log):"
  tail -5 "$log"
  exit 1
fi
if ! command -v etcd >/dev/null 2>&1; then
  say "etcd-server installed but no etcd on PATH (see $log)"
  exit 1
fi
say "$(etcd --version | head -1)"
