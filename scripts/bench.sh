#!/usr/bin/env bash
# make bench: microbenchmarks (cycles/packet) and, when ../shared/perf is
# beside the repository and we are root, the end-to-end datapath benchmark
# against the dpdk-testpmd io limit. Figures go to docs/performance.md by hand.
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
ninja -C "$BUILD" tests/bench/flow_key_bench tests/bench/classifier_bench tests/ofproto/ofproto_bench
for b in flow_key_bench classifier_bench; do
  if [ -x "$BUILD/tests/bench/$b" ]; then
    echo "== $b"
    taskset -c 1 "$BUILD/tests/bench/$b" --benchmark_min_time=0.3 --benchmark_repetitions=3 \
      --benchmark_report_aggregates_only=true
  fi
done
if [ -d ../shared/perf ] && [ "$(id -u)" -eq 0 ]; then
  echo "== end to end: dpswitchd vs testpmd io (net_pcap -> net_null, one PMD on core 1)"
  python3 scripts/perf-datapath.py --build "$BUILD" --runs 3 --json out/perf-datapath.json
fi
