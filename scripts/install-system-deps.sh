#!/usr/bin/env bash
# System packages the test suite needs that npm and PyPI cannot provide: Debian's Chromium for the
# observer's browser test. Idempotent; needs root (CI and the dev machines run as root).
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium missing: run 'sudo apt-get install -y chromium'" >&2
  fi
fi
