#!/usr/bin/env bash
# Test-only system packages from Debian, installed in one apt pass when absent (idempotent):
#   chromium    headless dashboard test (Playwright drives it via executable_path; no browser download)
#   prometheus  a real Prometheus server and promtool for tests/charts (rule checks and unit tests, scraping)
set -euo pipefail

packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium fonts-dejavu-core)
{ command -v promtool >/dev/null && command -v prometheus >/dev/null; } || packages+=(prometheus)
[ ${#packages[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" = "0" ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
echo "installing test packages: ${packages[*]}"
# policy-rc.d keeps apt from starting the packaged prometheus service (tests start their own on free ports).
if [ -z "$SUDO" ] && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
