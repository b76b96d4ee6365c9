#!/bin/bash
# The interoperability suites behind `make interop` (root; minutes, not
# seconds): overlays against the kernel's vxlan, OVS-DPDK (Geneve, GRE,
# VXLAN, VXLAN over IPv6) and a second dpswitchd; a LACP bond against
# OVS-DPDK's (balance-tcp and active-backup failover). Prints each suite's
# checks and one closing line "N passed, N failed" (suites).
set -u
BUILD=${1:-build}
D=$BUILD/src/dpswitchd
C=$BUILD/src/cli/dpsctl
passed=0 failed=0
suite() {
  echo "=== $*"
  if timeout 900 python3 "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
suite tests/tunnel/vxlan_interop_test.py "$D" "$C"
suite tests/tunnel/tunnel_peer_test.py "$D" "$C" ovs
suite tests/tunnel/tunnel_peer_test.py "$D" "$C" dpswitch
suite tests/daemon/bond_interop_test.py "$D" "$C"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
