#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine: installs the packages the
# build, the tests and the demo need (only those missing), and reserves
# hugepages when the machine allows it. Safe to run again and again.
set -euo pipefail

PKGS=(build-essential meson ninja-build pkg-config python3 ccache
      libdpdk-dev dpdk dpdk-dev libboost-dev nlohmann-json3-dev libspdlog-dev catch2
      libpcap-dev libbenchmark-dev gnuplot-nox openvswitch-common openvswitch-switch tshark
      iproute2 procps iputils-ping clang iperf3 openvswitch-switch-dpdk
      prometheus nfdump)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections || true
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Hugepages: best effort. Everything also runs with --no-huge.
if [ "$(id -u)" -eq 0 ] && [ -w /proc/sys/vm/nr_hugepages ]; then
  want=${DPS_HUGEPAGES:-1024}   # 2 MiB pages: 2 GiB
  have=$(cat /proc/sys/vm/nr_hugepages)
  if [ "$have" -lt "$want" ]; then
    echo "$want" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
  fi
  if ! mountpoint -q /dev/hugepages 2>/dev/null; then
    mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
  fi
fi
exit 0
