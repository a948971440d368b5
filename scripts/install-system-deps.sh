#!/usr/bin/env bash
# System packages the test suite needs that npm and PyPI cannot provide: Debian's Chromium for the
# observer's browser test; Debian's etcd (server + etcdctl) for @trellis/cluster, whose tests start
# their own etcd on free 127.0.0.1 ports; iproute2 and nftables for the cluster's network-namespace
# partition tests; a C compiler and libc headers (gcc, libc6-dev) for @trellis/grpc-bridge's mapping addon,
# which `pnpm build` compiles (scripts/build-native.mjs; without one it skips and results are read).
# Idempotent (each package is installed only when its command is missing); needs
# root (CI and the dev machines run as root).
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing system packages: run 'sudo apt-get install -y ${missing[*]}'" >&2
  fi
fi
