#!/usr/bin/env bash
# Builds ffi/dpdk/build/librapr_dpdk.so against the system's libdpdk (pkg-config libdpdk).
# Exit codes: 0 built, 2 libdpdk or a C compiler is missing (nothing built), other = compile error.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/build/librapr_dpdk.so"
cc="${CC:-cc}"

if ! command -v pkg-config >/dev/null || ! pkg-config --exists libdpdk; then
  echo "dpdk shim: libdpdk not found by pkg-config (apt-get install libdpdk-dev pkg-config); skipped" >&2
  exit 2
fi
if ! command -v "$cc" >/dev/null; then
  echo "dpdk shim: no C compiler ($cc); skipped" >&2
  exit 2
fi

version="$(pkg-config --modversion libdpdk)"
# Rebuilt when libdpdk changes too: the shim mirrors private structs of the version it was built against.
if [ -f "$out" ] && [ "$out" -nt "$here/rapr_dpdk.c" ] && [ "$out" -nt "$here/rapr_dpdk.h" ] && [ "$out" -nt "$0" ] \
  && [ "$(cat "$out.dpdk-version" 2>/dev/null)" = "$version" ]; then
  exit 0 # up to date
fi
mkdir -p "$here/build"
# shellcheck disable=SC2046 # pkg-config output is a list of flags
"$cc" -O2 -g -DALLOW_EXPERIMENTAL_API -Wall -Wextra -Wno-unused-parameter -fPIC -shared \
  -o "$out.tmp" "$here/rapr_dpdk.c" \
  $(pkg-config --cflags libdpdk) $(pkg-config --libs libdpdk)
mv "$out.tmp" "$out"
echo "$version" > "$out.dpdk-version"
echo "dpdk shim: built $out (DPDK $version)" >&2
