#!/usr/bin/env bash
# The system requirements of kubectl-vol's build, tests, demo and local cluster, defined once:
# scripts/setup.sh, `npm test` and `npm run demo` all run this. As root, a missing apt package is
# installed; otherwise (or with KUBECTL_VOL_NO_INSTALL=1) it prints one line naming the exact
# command to run and exits 1. Go is checked too (the upstream parts build from Go modules),
# unless KUBECTL_VOL_ASSETS / KUBEBUILDER_ASSETS name a folder of prebuilt binaries.
#
#   scripts/ensure-system.sh          check, install what is missing (as root), or say what to run
#   scripts/ensure-system.sh --packages   the apt packages only (setup.sh runs this one with sudo)
#   scripts/ensure-system.sh --list       print the apt packages, one a line
set -uo pipefail

# What is looked for (a command on PATH, or an absolute path) and the Debian package that has it.
REQUIREMENTS=(
  mkfs.btrfs:btrfs-progs             # loop-mounted btrfs for the driver, the demo and the tests
  mkfs.xfs:xfsprogs                  # XFS with reflink, the reflink backend
  xfs_quota:xfsprogs
  mkfs.ext4:e2fsprogs                # ext4, the copy backend
  losetup:mount                      # loop devices
  setpriv:util-linux                 # parent-death signals of the test processes
  flock:util-linux                   # one upstream build at a time (scripts/bins.sh)
  openssl:openssl                    # certificates of the local control plane and webhook
  buildah:buildah                    # images, FROM scratch (scripts/image.sh, the local cluster)
  podman:podman                      # the image test
  runc:runc                          # containers of the local cluster's nodes
  iptables:iptables                  # the kubelet's chains
  /bin/busybox:busybox-static        # the busybox image the demo's pods run
  /usr/lib/cni/bridge:containernetworking-plugins   # pod networking of the nodes
)

packages() {
  local r
  for r in "${REQUIREMENTS[@]}"; do printf '%s\n' "${r#*:}"; done | awk '!seen[$0]++'
}
case "${1:-}" in
  "" | --packages) ;;
  --list) packages; exit 0 ;;
  *) printf 'usage: scripts/ensure-system.sh [--packages | --list]\n' >&2; exit 2 ;;
esac

present() {
  case "$1" in
    /*) [ -x "$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=() tools=()
for r in "${REQUIREMENTS[@]}"; do
  t=${r%%:*} p=${r#*:}
  if ! present "$t"; then
    tools+=("$t")
    case " ${missing[*]} " in *" $p "*) ;; *) missing+=("$p") ;; esac
  fi
done

say() { printf '[system] %s\n' "$*" >&2; }
if [ ${#missing[@]} -gt 0 ]; then
  cmd="apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$EUID" != 0 ] || [ -n "${KUBECTL_VOL_NO_INSTALL:-}" ] || ! command -v apt-get >/dev/null 2>&1; then
    [ "$EUID" = 0 ] || cmd="sudo $cmd"
    say "missing ${tools[*]}: run \`$cmd\` (or \`bash scripts/setup.sh\` as root), then try again"
    exit 1
  fi
  say "installing with apt: ${missing[*]} (for ${tools[*]})"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/dev/null 2>&1; then
    say "apt-get could not install ${missing[*]}: run \`$cmd\` and read its error, then try again"
    exit 1
  fi
fi

if [ "${1:-}" != --packages ] && [ -z "${KUBECTL_VOL_ASSETS:-${KUBEBUILDER_ASSETS:-}}" ] && ! command -v go >/dev/null 2>&1; then
  say "missing go: install Go 1.26 from https://go.dev/dl/ (it builds the upstream Kubernetes parts), or set KUBECTL_VOL_ASSETS to a folder of prebuilt binaries"
  exit 1
fi
exit 0
