#!/usr/bin/env bash
# Builds the real upstream parts the tests run against, from their Go modules at the versions
# pinned in scripts/versions.env, into a cache outside the repository keyed by version.
# A part already in the cache is reused. Prints one `name=/absolute/path` line per binary or
# folder on stdout (build logs go to stderr), so callers can read the paths from it.
#
#   scripts/bins.sh            ensure every part, print the paths
#   scripts/bins.sh etcd ...   ensure only the named parts
#
# KUBECTL_VOL_ASSETS (or KUBEBUILDER_ASSETS) naming a folder of prebuilt binaries skips the
# build for every binary found there. KUBECTL_VOL_CACHE moves the cache (default
# ~/.cache/kubectl-vol).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

cache=${KUBECTL_VOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-vol}
assets=${KUBECTL_VOL_ASSETS:-${KUBEBUILDER_ASSETS:-}}
mkdir -p "$cache/bin" "$cache/work"
log() { printf '[bins] %s\n' "$*" >&2; }

# One build at a time per cache, however many test files ask at once; a part already built is
# reported without waiting for someone else's build of another part.
locked=0
lock() {
  if [ $locked = 0 ]; then
    exec 9>"$cache/.lock"
    if ! flock -n 9; then
      log "waiting for another build of the upstream parts to finish (lock $cache/.lock)"
      flock 9
    fi
    locked=1
  fi
}
die() { printf '[bins] error: %s\n' "$*" >&2; exit 1; }
command -v go >/dev/null || die "Go is needed to build the upstream parts; install Go 1.26 or set KUBECTL_VOL_ASSETS"

# build_module KEY MAIN_GO_OR_EMPTY LDFLAGS REQUIRE... -- PACKAGE...
# Builds PACKAGEs from a throwaway module that requires REQUIREs (module@version), into
# $cache/bin/KEY/. A `replace` file beside the go.mod, when present, is appended first.
build_module() {
  local key=$1 main=$2 ldflags=$3; shift 3
  local requires=()
  while [ "$1" != "--" ]; do requires+=("$1"); shift; done
  shift
  local out="$cache/bin/$key"
  if [ -f "$out/.complete" ]; then return 0; fi
  lock
  if [ -f "$out/.complete" ]; then return 0; fi
  local work="$cache/work/$key"
  rm -rf "$work" "$out.tmp" && mkdir -p "$work" "$out.tmp"
  build_n=$((build_n + 1))
  log "building $key ($build_n of $build_m, about $(expected_minutes "$key") min cold; cached afterwards in $out)"
  local t0=$SECONDS
  (
    cd "$work"
    printf 'module kubectl-vol.local/build/%s\n\ngo 1.26\n' "${key//[^a-zA-Z0-9]/-}" >go.mod
    if [ -n "$main" ]; then mkdir -p cmd && printf '%s\n' "$main" >cmd/main.go; fi
    if [ -n "${REPLACES:-}" ]; then printf '%s\n' "$REPLACES" >>go.mod; fi
    for r in "${requires[@]}"; do go mod edit -require="$r"; done
    local pkgs=("$@")
    [ -n "$main" ] && pkgs+=("./cmd")
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp/" "${pkgs[@]}" >&2 &
    heartbeat $! "$key"
  ) || { rm -rf "$out.tmp"; die "building $key failed (see the Go output above)"; }
  [ -n "$main" ] && [ -f "$out.tmp/cmd" ] && mv "$out.tmp/cmd" "$out.tmp/$key_main_name"
  touch "$out.tmp/.complete"
  rm -rf "$out" && mv "$out.tmp" "$out"
  log "built $key in $((SECONDS - t0))s"
}

# Expected minutes of a cold build of KEY on 2 idle cores (a warm Go cache is faster, a busy
# machine slower: Kubernetes took 28 min while other builds shared the cores; etcd 1.7 min,
# containerd 2.5 min, csi-sanity 1 min).
expected_minutes() {
  case "$1" in
    etcd-*) echo 2 ;;
    kubernetes-*) echo 10 ;; # kube-apiserver, -controller-manager, -scheduler, kubectl, kubelet
    containerd-*) echo 2 ;;
    csi-test-*) echo 1 ;;
    csi-provisioner-* | csi-snapshotter-*) echo 3 ;;
    csi-resizer-*) echo 2 ;;
    *) echo 2 ;;
  esac
}

# heartbeat PID KEY: waits for the build PID, saying every 30 s that KEY is still building, so
# a long cold build is visibly alive; returns the build's exit status.
heartbeat() {
  local pid=$1 key=$2 t0=$SECONDS i=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    i=$((i + 1))
    if [ $((i % 30)) = 0 ] && kill -0 "$pid" 2>/dev/null; then
      local s=$((SECONDS - t0))
      log "still building $key: $((s / 60))m$((s % 60))s so far, about $(expected_minutes "$key") min cold"
    fi
  done
  wait "$pid"
}

# The cache keys a cold build of PART makes (none when the assets folder has it): the total
# of the "n of m" progress.
keys_of() {
  case "$1" in
    etcd) from_assets etcd || echo "etcd-$ETCD_VERSION" ;;
    kube) from_assets kubelet && from_assets kube-apiserver || echo "kubernetes-$KUBERNETES_VERSION" ;;
    containerd) from_assets containerd || echo "containerd-$CONTAINERD_VERSION" ;;
    csi-sanity) from_assets csi-sanity || echo "csi-test-$CSI_TEST_VERSION" ;;
    sidecars)
      from_assets csi-provisioner || echo "csi-provisioner-$CSI_PROVISIONER_VERSION"
      from_assets csi-resizer || echo "csi-resizer-$CSI_RESIZER_VERSION"
      from_assets csi-snapshotter || echo "csi-snapshotter-$SNAPSHOTTER_VERSION"
      ;;
  esac
}

# The first folder that holds BIN: the assets folder, else the cache folder after building.
emit() { # NAME DIR
  local name=$1 dir=$2
  [ -x "$dir/$name" ] || die "$name is missing from $dir"
  printf '%s=%s\n' "$name" "$dir/$name"
}
from_assets() { [ -n "$assets" ] && [ -x "$assets/$1" ]; }

ensure_etcd() {
  if from_assets etcd; then emit etcd "$assets"; return; fi
  key_main_name=etcd
  build_module "etcd-$ETCD_VERSION" \
    'package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }' "" \
    "go.etcd.io/etcd/server/v3@$ETCD_VERSION" -- 
  emit etcd "$cache/bin/etcd-$ETCD_VERSION"
}

kube_replaces() {
  # Every staging module k8s.io/<name> that k8s.io/kubernetes replaces with a local folder
  # maps to its published v0.X.Y, read from the pinned go.mod itself.
  local modfile
  modfile=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$modfile" ] || die "could not read the go.mod of k8s.io/kubernetes@$KUBERNETES_VERSION"
  echo "replace ("
  sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"$KUBERNETES_STAGING_VERSION"'#p' "$modfile"
  echo ")"
}

KUBE_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet)
ensure_kube() {
  local all=1 b
  for b in "${KUBE_BINS[@]}"; do from_assets "$b" || all=0; done
  if [ $all = 1 ]; then for b in "${KUBE_BINS[@]}"; do emit "$b" "$assets"; done; return; fi
  local v=${KUBERNETES_VERSION#v} major minor
  major=${v%%.*}; minor=${v#*.}; minor=${minor%%.*}
  local pkg=k8s.io/component-base/version
  local ld="-X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  ld+=" -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/client-go/pkg/version.gitMajor=$major -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  local pkgs=() 
  for b in "${KUBE_BINS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  local replaces=""
  [ -f "$cache/bin/kubernetes-$KUBERNETES_VERSION/.complete" ] || replaces=$(cd "$cache/work" && kube_replaces)
  REPLACES=$replaces \
    build_module "kubernetes-$KUBERNETES_VERSION" "" "$ld" "k8s.io/kubernetes@$KUBERNETES_VERSION" -- "${pkgs[@]}"
  for b in "${KUBE_BINS[@]}"; do emit "$b" "$cache/bin/kubernetes-$KUBERNETES_VERSION"; done
}

ensure_csi_sanity() {
  if from_assets csi-sanity; then emit csi-sanity "$assets"; return; fi
  build_module "csi-test-$CSI_TEST_VERSION" "" "" "github.com/kubernetes-csi/csi-test/v5@$CSI_TEST_VERSION" -- \
    github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity
  emit csi-sanity "$cache/bin/csi-test-$CSI_TEST_VERSION"
}

# The upstream CSI sidecars and the snapshot-controller (issue: end to end with real sidecars).
ensure_sidecars() {
  local b all=1
  for b in csi-provisioner csi-resizer csi-snapshotter snapshot-controller; do from_assets "$b" || all=0; done
  if [ $all = 1 ]; then
    for b in csi-provisioner csi-resizer csi-snapshotter snapshot-controller; do emit "$b" "$assets"; done
    return
  fi
  local prov=github.com/kubernetes-csi/external-provisioner/v6
  local res=github.com/kubernetes-csi/external-resizer/v2
  local snap=github.com/kubernetes-csi/external-snapshotter/v8
  build_module "csi-provisioner-$CSI_PROVISIONER_VERSION" "" "-X main.version=$CSI_PROVISIONER_VERSION" \
    "$prov@$CSI_PROVISIONER_VERSION" -- "$prov/cmd/csi-provisioner"
  build_module "csi-resizer-$CSI_RESIZER_VERSION" "" "-X main.version=$CSI_RESIZER_VERSION" \
    "$res@$CSI_RESIZER_VERSION" -- "$res/cmd/csi-resizer"
  build_module "csi-snapshotter-$SNAPSHOTTER_VERSION" "" "-X main.version=$SNAPSHOTTER_VERSION" \
    "$snap@$SNAPSHOTTER_VERSION" "github.com/kubernetes-csi/external-snapshotter/client/v8@$SNAPSHOTTER_VERSION" -- \
    "$snap/cmd/csi-snapshotter" "$snap/cmd/snapshot-controller"
  emit csi-provisioner "$cache/bin/csi-provisioner-$CSI_PROVISIONER_VERSION"
  emit csi-resizer "$cache/bin/csi-resizer-$CSI_RESIZER_VERSION"
  emit csi-snapshotter "$cache/bin/csi-snapshotter-$SNAPSHOTTER_VERSION"
  emit snapshot-controller "$cache/bin/csi-snapshotter-$SNAPSHOTTER_VERSION"
}

# containerd (daemon, ctr and the runc shim) for the local cluster's real nodes.
CONTAINERD_BINS=(containerd ctr containerd-shim-runc-v2)
ensure_containerd() {
  local b all=1
  for b in "${CONTAINERD_BINS[@]}"; do from_assets "$b" || all=0; done
  if [ $all = 1 ]; then for b in "${CONTAINERD_BINS[@]}"; do emit "$b" "$assets"; done; return; fi
  local mod=github.com/containerd/containerd/v2
  build_module "containerd-$CONTAINERD_VERSION" "" "-X $mod/version.Version=$CONTAINERD_VERSION" \
    "$mod@$CONTAINERD_VERSION" -- "$mod/cmd/containerd" "$mod/cmd/ctr" "$mod/cmd/containerd-shim-runc-v2"
  for b in "${CONTAINERD_BINS[@]}"; do emit "$b" "$cache/bin/containerd-$CONTAINERD_VERSION"; done
}

# Source files taken from pinned modules (never committed): the snapshot CRDs and csi.proto.
module_dir() { GOFLAGS=-mod=mod go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'; }
# module_yaml NAME MODULE@VERSION SUBDIR: the *.yaml of SUBDIR in that module, into the cache.
module_yaml() {
  local name=$1 mod=$2 sub=$3
  local out="$cache/files/$name"
  if [ ! -f "$out/.complete" ]; then
    lock
    local dir
    dir=$(cd "$cache/work" && module_dir "$mod")
    [ -d "$dir/$sub" ] || die "no $sub in $mod"
    rm -rf "$out.tmp" && mkdir -p "$out.tmp"
    cp "$dir/$sub"/*.yaml "$out.tmp/" && rm -f "$out.tmp/kustomization.yaml"
    chmod u+w "$out.tmp"/*.yaml && touch "$out.tmp/.complete"
    rm -rf "$out" && mv "$out.tmp" "$out"
  fi
  printf '%s\n' "$out"
}
ensure_crds() {
  printf 'snapshot-crds=%s\n' "$(module_yaml "snapshot-crds-$SNAPSHOTTER_VERSION" \
    "github.com/kubernetes-csi/external-snapshotter/client/v8@$SNAPSHOTTER_VERSION" config/crd)"
}
# cert-manager's CRDs, so the cert-manager overlay can be checked against a real apiserver.
ensure_cert_manager_crds() {
  printf 'cert-manager-crds=%s\n' "$(module_yaml "cert-manager-crds-$CERT_MANAGER_VERSION" \
    "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" deploy/crds)"
}
ensure_csi_proto() {
  local out="$cache/files/csi-spec-$CSI_SPEC_VERSION"
  if [ ! -f "$out/csi.proto" ]; then
    lock
    local dir
    dir=$(cd "$cache/work" && module_dir "github.com/container-storage-interface/spec@$CSI_SPEC_VERSION")
    [ -f "$dir/csi.proto" ] || die "no csi.proto in container-storage-interface/spec@$CSI_SPEC_VERSION"
    mkdir -p "$out" && cp "$dir/csi.proto" "$out/csi.proto.tmp" && chmod u+w "$out/csi.proto.tmp" && mv "$out/csi.proto.tmp" "$out/csi.proto"
  fi
  printf 'csi-proto=%s\n' "$out/csi.proto"
}

# The kubelet's plugin registration API (the driver registers itself: node-driver-registrar
# cannot be built here), from the pinned k8s.io/kubelet module.
ensure_kubelet_proto() {
  local out="$cache/files/kubelet-$KUBERNETES_STAGING_VERSION"
  if [ ! -f "$out/pluginregistration.proto" ]; then
    lock
    local dir
    dir=$(cd "$cache/work" && module_dir "k8s.io/kubelet@$KUBERNETES_STAGING_VERSION")
    local f="$dir/pkg/apis/pluginregistration/v1/api.proto"
    [ -f "$f" ] || die "no pkg/apis/pluginregistration/v1/api.proto in k8s.io/kubelet@$KUBERNETES_STAGING_VERSION"
    mkdir -p "$out" && cp "$f" "$out/p.tmp" && chmod u+w "$out/p.tmp" && mv "$out/p.tmp" "$out/pluginregistration.proto"
  fi
  printf 'kubelet-proto=%s\n' "$out/pluginregistration.proto"
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(crds cert-manager-crds csi-proto kubelet-proto etcd kube containerd csi-sanity sidecars)
build_n=0 build_m=0 cold_min=0
for p in "${parts[@]}"; do
  for k in $(keys_of "$p"); do
    if [ ! -f "$cache/bin/$k/.complete" ]; then
      build_m=$((build_m + 1)) cold_min=$((cold_min + $(expected_minutes "$k")))
    fi
  done
done
if [ $build_m -gt 0 ]; then
  log "$build_m upstream part(s) to build from their Go modules: about $cold_min min on 2 idle cores, once (cached in $cache)"
fi
for p in "${parts[@]}"; do
  case "$p" in
    etcd) ensure_etcd ;;
    kube) ensure_kube ;;
    csi-sanity) ensure_csi_sanity ;;
    sidecars) ensure_sidecars ;;
    crds) ensure_crds ;;
    cert-manager-crds) ensure_cert_manager_crds ;;
    csi-proto) ensure_csi_proto ;;
    kubelet-proto) ensure_kubelet_proto ;;
    containerd) ensure_containerd ;;
    *) die "unknown part '$p' (known: etcd kube containerd csi-sanity sidecars crds cert-manager-crds csi-proto kubelet-proto)" ;;
  esac
done
