#!/usr/bin/env bash
# DPDK data plane: install libdpdk (+ pkg-config, a C compiler) when missing and build the FFI shim.
# Never fails CI on its own: without DPDK the tests in test/dpdk report a skip with the reason.
set -uo pipefail
cd "$(dirname "$0")/../.."

need=()
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v cc >/dev/null || need+=(gcc libc6-dev)
pkg-config --exists libdpdk 2>/dev/null || need+=(libdpdk-dev dpdk)
if [ ${#need[@]} -gt 0 ]; then
  if declare -F apt_install >/dev/null; then
    apt_install "${need[@]}" || echo "dpdk: could not install ${need[*]}; DPDK tests will skip" >&2
  else
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null) \
      || echo "dpdk: could not install ${need[*]}; DPDK tests will skip" >&2
  fi
fi

ffi/dpdk/build.sh || echo "dpdk: shim not built; DPDK tests will skip" >&2
exit 0
