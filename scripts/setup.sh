#!/usr/bin/env bash
# Installs everything kubectl-vol's build and tests need on a fresh Debian machine:
# system tools (apt), Node 24 and the npm dependencies (npm ci), and the upstream Kubernetes
# parts built from their Go modules (scripts/bins.sh, cached outside the repo).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for tool in mkfs.btrfs:btrfs-progs mkfs.xfs:xfsprogs mkfs.ext4:e2fsprogs openssl:openssl setpriv:util-linux losetup:mount buildah:buildah podman:podman runc:runc iptables:iptables /bin/busybox:busybox-static /usr/lib/cni/bridge:containernetworking-plugins; do
  t=${tool%%:*}
  if [ "${t#/}" != "$t" ]; then [ -x "$t" ] || need_apt+=("${tool#*:}"); else command -v "$t" >/dev/null 2>&1 || need_apt+=("${tool#*:}"); fi
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] installing with apt: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

command -v go >/dev/null || { echo "[setup] error: Go 1.26 is needed to build the upstream Kubernetes parts" >&2; exit 1; }
command -v npm >/dev/null || { echo "[setup] error: npm is needed (any Node.js; Node 24 comes from the npm registry)" >&2; exit 1; }

echo "[setup] npm ci (brings Node 24 from the npm registry as the 'node' package)"
npm ci --no-audit --no-fund
echo "[setup] Node for npm scripts: $(npx --no-install node --version)"

echo "[setup] upstream parts (cold: builds from Go modules; warm: reuses ~/.cache/kubectl-vol)"
bash scripts/bins.sh >/dev/null
echo "[setup] done"
