#!/usr/bin/env bash
# Builds the container image of kubectl-vol FROM scratch out of `npm run build` output: the one
# multi-call executable /kubectl-vol with its names /vol-csi and /vol-webhook as links to it,
# csi.proto and the kubelet's pluginregistration.proto, the host tools the driver runs (mount,
# losetup, cp, btrfs, xfs_quota, ...) and every shared library `ldd` lists for them. No base
# image is pulled.
#
#   scripts/image.sh [TAG]     default tag: localhost/kubectl-vol:v0.1.0
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/kubectl-vol:v0.1.0}
dist=dist
for f in kubectl-vol csi.proto pluginregistration.proto; do
  [ -e "$dist/$f" ] || { echo "image: $dist/$f is missing: run 'npm run build' first" >&2; exit 1; }
done
command -v buildah >/dev/null || { echo "image: buildah is needed (apt-get install buildah)" >&2; exit 1; }

rootfs=$dist/image-rootfs
rm -rf "$rootfs" && mkdir -p "$rootfs"/{tmp,csi,etc,usr/sbin,usr/bin,dev,proc,sys,var/lib/kubectl-vol}
chmod 1777 "$rootfs/tmp"
cp "$dist/kubectl-vol" "$dist/csi.proto" "$dist/pluginregistration.proto" "$rootfs/"
# The executable's other names (src/exe/names.ts): the links npm run build made beside it.
for l in "$dist"/*; do
  if [ -L "$l" ] && [ "$(readlink "$l")" = kubectl-vol ]; then ln -s kubectl-vol "$rootfs/$(basename "$l")"; fi
done
[ -L "$rootfs/vol-csi" ] && [ -L "$rootfs/vol-webhook" ] || { echo "image: $dist/vol-csi or $dist/vol-webhook is not a link to kubectl-vol: run 'npm run build' again" >&2; exit 1; }
printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"

# The tools the driver runs, at the paths it finds them by (PATH inside the image).
tools=(mount umount losetup findmnt setpriv cp du stat sync btrfs xfs_quota mkdir rm mv)
for t in "${tools[@]}"; do
  p=$(command -v "$t") || { echo "image: host tool $t is missing (install btrfs-progs, xfsprogs, util-linux)" >&2; exit 1; }
  real=$(readlink -f "$p")
  install -D -m 0755 "$real" "$rootfs/usr/bin/$t"
done
# The btrfs backend's ioctl helper, beside the executable where the driver looks for it
# (src/driver/backends/btrfs-helper.ts); without a C compiler the driver runs the btrfs command.
if command -v cc >/dev/null; then
  cc -O2 -static -o "$rootfs/vol-btrfs-helper" src/driver/backends/btrfs-helper.c
else
  echo "image: no C compiler (cc): the image has no btrfs ioctl helper, so btrfs snapshots run the btrfs command" >&2
fi
# Every shared library of every executable, at its own path (the loader included).
for exe in "$rootfs"/kubectl-vol "$rootfs"/usr/bin/*; do
  ldd "$exe" 2>/dev/null | grep -o '/[^ )]*' | while read -r lib; do
    [ -e "$rootfs$lib" ] || install -D -m 0644 "$(readlink -f "$lib")" "$rootfs$lib"
  done
done
chmod 0755 "$rootfs"/lib*/ld-linux* "$rootfs"/lib*/*/ld-linux* 2>/dev/null || true

buildah build --quiet -f Containerfile -t "$tag" "$rootfs" >/dev/null
echo "built $tag ($(du -sh "$rootfs" | cut -f1) uncompressed)"
