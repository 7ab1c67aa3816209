#!/usr/bin/env bash
# Installs everything kubectl-vol's build and tests need on a fresh Debian machine: system
# tools (apt, scripts/ensure-system.sh), Node 24 and the npm dependencies (npm ci), and the
# upstream Kubernetes parts built from their Go modules (scripts/bins.sh, cached outside the repo).
set -euo pipefail
cd "$(dirname "$0")/.."

# The system requirements are defined once, in scripts/ensure-system.sh (npm test and npm run demo
# run it too): as root it installs the missing apt packages.
# Not root: the packages through sudo, then the rest (Go) as the user, whose PATH has it.
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then sudo bash scripts/ensure-system.sh --packages; fi
bash scripts/ensure-system.sh

command -v npm >/dev/null || { echo "[setup] error: npm is needed (any Node.js; Node 24 comes from the npm registry)" >&2; exit 1; }

echo "[setup] npm ci (brings Node 24 from the npm registry as the 'node' package)"
npm ci --no-audit --no-fund
echo "[setup] Node for npm scripts: $(npx --no-install node --version)"

echo "[setup] upstream parts (cold: builds from Go modules; warm: reuses ~/.cache/kubectl-vol)"
bash scripts/bins.sh >/dev/null  # progress on stderr: which part, n of m, the expected time
echo "[setup] done"
