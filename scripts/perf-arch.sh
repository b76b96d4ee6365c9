#!/usr/bin/env bash
# Before/after table for a structural change, in one session on one host:
# OVS-DPDK, dpswitch built from tree BEFORE and from tree AFTER, each run
# interleaved with the testpmd io limit by ../shared/perf/make_results.py.
# Usage: scripts/perf-arch.sh BEFORE_TREE AFTER_TREE OUT_DIR [RUNS] [workload...]
# (each tree built in <tree>/build; needs root, hugepages, ../shared/perf).
set -euo pipefail
before=$(realpath "$1"); after=$(realpath "$2"); out=$(realpath -m "$3"); runs=${4:-1}
shift $(( $# < 4 ? $# : 4 ))
loads=("$@"); [ ${#loads[@]} -gt 0 ] || loads=(1flow 100k-1mask subtables-16 l2-learning vlan-pop)
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
# PERF_WORK: a writable copy of ../shared/perf to reuse (its generated workloads).
work=${PERF_WORK:-$(mktemp -d)}
[ -x "$work/make_results.py" ] || cp -r "$here/../shared/perf/." "$work/"
cd "$work"
tpl() { sed -n "$2p" "$1/tests/perf/switch-cmd.txt" | sed "s|^build/|$1/build/|"; }
./make_results.py --runs "$runs" --out "$out/ovs.md" --json "$out/ovs.json" "${loads[@]}"
for side in before after; do
  tree=$([ $side = before ] && echo "$before" || echo "$after")
  ./make_results.py --backend cmd --switch-name "dpswitch-$side" --switch-socket-mem 1024 --runs "$runs" \
    --switch-cmd "$(tpl "$tree" 1)" --stats-cmd "$(tpl "$tree" 2)" --flows-cmd "$(tpl "$tree" 3)" \
    --out "$out/$side.md" --json "$out/$side.json" "${loads[@]}"
done
[ -n "${PERF_WORK:-}" ] || rm -rf "$work"
