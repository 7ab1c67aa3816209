#!/usr/bin/env bash
# What the local cluster's real nodes share with the host, and how it is given back.
#
#   host.sh acquire OWNER_PID COUNT SYSCTL...
#                                     reserve COUNT loopback addresses (127.0.0.N, one per node)
#                                     for OWNER_PID and print them, one a line; the first user
#                                     saves the SYSCTLs (the ones kubelets change: cluster.ts)
#   host.sh release OWNER_PID         give back OWNER_PID's addresses; the last user also puts
#                                     back what kubelets change on the host
#
# Kubelets change host-wide things whatever their flags say: sysctls (saved before the first node
# of any cluster starts, restored when the last cluster on the machine stops), the mount points the node namespaces bind over (created here
# if missing, removed again if this created them) and, should a kubelet be run with its iptables
# chains on, KUBE-* chains (removed). Every step is safe to repeat: the session's watchdog runs
# `release` again after a crash.
set -euo pipefail
state=${KUBECTL_VOL_HOST_STATE:-/run/kubectl-vol-host}
mkdir -p "$state/ips" "$state/users"
exec 8>"$state/.lock"
flock 8
# The last user removes the state folder: a caller that waited on a lock file unlinked since
# starts over on the new one.
if [ "$(stat -c %i "$state/.lock" 2>/dev/null)" != "$(stat -L -c %i /proc/self/fd/8)" ]; then exec bash "$0" "$@"; fi

# Bound over in each node's mount namespace (see node.ts); they must exist on the host.
MOUNT_POINTS=(/var/lib/kubelet /var/lib/kubectl-vol /var/lib/cni /run/containerd /var/log/containers /var/log/pods)

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# Users whose process is gone (a crash before their watchdog ran) no longer count.
prune() {
  local f pid
  for f in "$state"/users/*; do
    [ -e "$f" ] || continue
    pid=$(basename "$f")
    alive "$pid" || rm -f "$f"
  done
  for f in "$state"/ips/*; do
    [ -e "$f" ] || continue
    alive "$(cat "$f" 2>/dev/null)" || rm -f "$f"
  done
}

first_user_setup() {
  if [ ! -f "$state/sysctl.saved" ]; then
    local s
    for s in "$@"; do
      printf '%s=%s\n' "$s" "$(sysctl -n "$s")"
    done >"$state/sysctl.saved.tmp"
    mv "$state/sysctl.saved.tmp" "$state/sysctl.saved"
  fi
  local d
  for d in "${MOUNT_POINTS[@]}"; do
    if [ ! -e "$d" ]; then
      mkdir -p "$d"
      grep -qxF "$d" "$state/created" 2>/dev/null || echo "$d" >>"$state/created"
    fi
  done
}

last_user_teardown() {
  if [ -f "$state/sysctl.saved" ]; then
    local line
    while IFS= read -r line; do
      [ -n "$line" ] && sysctl -q -w "$line" >/dev/null || true
    done <"$state/sysctl.saved"
    rm -f "$state/sysctl.saved"
  fi
  if command -v iptables >/dev/null; then
    local t c
    for t in filter nat mangle; do
      for c in $(iptables -t "$t" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[A-Z-]*\)$/\1/p'); do
        iptables -t "$t" -S 2>/dev/null | grep -E "^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j $c( |$)" |
          sed 's/^-A/-D/' | while read -r rule; do eval "iptables -t $t $rule" || true; done
        iptables -t "$t" -F "$c" 2>/dev/null || true
        iptables -t "$t" -X "$c" 2>/dev/null || true
      done
    done
  fi
  if [ -f "$state/created" ]; then
    local d
    # Deepest first; only empty folders, never a mount point.
    sort -r "$state/created" | while read -r d; do
      mountpoint -q "$d" || rmdir "$d" 2>/dev/null || true
    done
    rm -f "$state/created"
  fi
}

cmd=${1:-}
owner=${2:-}
case "$cmd" in
  acquire)
    count=${3:?count}
    shift 3
    prune
    first_user_setup "$@"
    : >"$state/users/$owner"
    got=()
    for n in $(seq 2 254); do
      [ ${#got[@]} -ge "$count" ] && break
      [ -e "$state/ips/127.0.0.$n" ] && continue
      echo "$owner" >"$state/ips/127.0.0.$n"
      got+=("127.0.0.$n")
    done
    if [ ${#got[@]} -lt "$count" ]; then
      for ip in "${got[@]}"; do rm -f "$state/ips/$ip"; done
      echo "host.sh: no $count free loopback addresses in 127.0.0.2-254" >&2
      exit 1
    fi
    printf '%s\n' "${got[@]}"
    ;;
  release)
    for f in "$state"/ips/*; do
      [ -e "$f" ] && [ "$(cat "$f" 2>/dev/null)" = "$owner" ] && rm -f "$f"
    done
    rm -f "$state/users/$owner"
    prune
    if [ -z "$(ls -A "$state/users")" ]; then
      last_user_teardown
      rm -rf "$state"
    fi
    ;;
  *)
    echo "usage: host.sh acquire OWNER_PID COUNT SYSCTL... | release OWNER_PID" >&2
    exit 2
    ;;
esac
