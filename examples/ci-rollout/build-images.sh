#!/usr/bin/env bash
# Makes the three versions of the example app offline, from the static busybox binary:
#   v1  a page saying "v1", and /health
#   v2  a page saying "v2", but a release bug: /health is missing, so its health check fails
#   v3  the fix: a page saying "v3", and /health again
# Each is imported into the local node's image store as localhost/skiff-examples/ci-app:vN
# (the node is started if it does not run yet). Idempotent: an image that exists already
# is left alone.
set -euo pipefail
skiff daemon start >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for version in v1 v2 v3; do
  ref=localhost/skiff-examples/ci-app:$version
  if skiff image inspect "$ref" >/dev/null 2>&1; then continue; fi
  rootfs=$work/$version
  mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/srv/www"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in sh httpd wget cat echo sleep; do ln -sf busybox "$rootfs/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\n' > "$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp"
  printf '%s\n' "$version" > "$rootfs/srv/www/index.html"
  [ "$version" = v2 ] || printf 'ok\n' > "$rootfs/srv/www/health"
  tar -C "$rootfs" -czf "$work/$version.tgz" .
  skiff image import --cmd '["sh"]' "$work/$version.tgz" "$ref" >/dev/null
  echo "built $ref"
done
