#!/usr/bin/env bash
# Test-only: a real Prometheus server and promtool from Debian's `prometheus` package (2.42),
# used by tests/charts to check/unit-test the alert rules and to scrape a running analyzer.
# Idempotent: does nothing when promtool and prometheus are already on PATH.
set -euo pipefail

if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# --no-install-recommends: no node-exporter/alertmanager; policy-rc.d keeps apt from starting the
# packaged service (tests start their own server on a free port).
if [ -z "$SUDO" ] && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
promtool --version 2>&1 | head -1
