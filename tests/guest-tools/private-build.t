#!/bin/bash
# vgpu-client-test runs the clients as nobody too; nobody cannot enter a
# build under a 0700 directory (any clone in /root).  The test must not rely
# on the build's parents: run it on a build placed under a 0700 directory.
. "$(dirname "$0")/../lib/tap.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
plan 3
[ "$(id -u)" = 0 ] || bail "runs as root, to run the clients as nobody"
tmp=$(mktemp -d /tmp/vgpu-private-build.XXXXXX) || bail "no temp dir"
trap 'rm -rf "$tmp"' EXIT
chmod 700 "$tmp"
mkdir -p "$tmp/clone/build"
cp -a "$top/build/guest-tools" "$tmp/clone/build/" || bail "no build/guest-tools: make"

setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$tmp/clone/build/guest-tools/vgpu-client"
is "$?" 1 "nobody cannot reach the build copied under a 0700 directory"

out=$(VGPU_GUEST_TOOLS_BUILD=$tmp/clone/build/guest-tools \
      "$top/build/tests/vgpu-client-test" --tap -p /vgpu-client/static/permissions/group-member-only \
      -p /vgpu-client/dynamic/permissions/group-member-only 2>&1)
is "$?" 0 "the permission tests pass on that build"
is "$(grep -c '^ok ' <<<"$out")" 2 "both ran (static and dynamic client)"
