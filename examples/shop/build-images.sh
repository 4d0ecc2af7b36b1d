#!/usr/bin/env bash
# Makes localhost/skiff-examples/shop:1 offline: the static busybox binary with its
# applets, and the three services' files (web/, api/, db/ under /srv). Without
# arguments it goes into this machine's node; with `--lab NAME` into every host of a
# `skiff lab` cluster.
set -euo pipefail
cd "$(dirname "$0")"
ref=localhost/skiff-examples/shop:1
lab=
if [ "${1:-}" = --lab ]; then lab=${2:?usage: build-images.sh [--lab NAME]}; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/srv"
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
chmod 1777 "$root/tmp"
cp -r web api db "$root/srv/"
# Fixed times and owners: the same files give the same image.
find "$root" -exec touch -h -d @0 {} +
tar --owner=0 --group=0 --numeric-owner --sort=name -C "$root" -czf "$work/rootfs.tgz" .
if [ -n "$lab" ]; then
  skiff lab import --name "$lab" --cmd '["sh"]' "$work/rootfs.tgz" "$ref"
else
  skiff daemon start >/dev/null
  skiff image import --cmd '["sh"]' "$work/rootfs.tgz" "$ref" >/dev/null
  echo "built $ref"
fi
