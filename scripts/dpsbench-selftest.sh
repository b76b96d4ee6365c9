#!/usr/bin/env bash
# dpsbench's own ceiling vs dpdk-testpmd, txonly -> rxonly over the same
# memif pair with no switch in between (issue 3, "Performance").
#
# Each round runs the testpmd pair (txonly --txpkts=60 -> rxonly) and then the
# dpsbench pair (txonly --frame-size 64 -> rxonly; 64 B with FCS = the same
# 60-byte buffers), one sender core and one receiver core each, --no-huge,
# a private file prefix and socket per run. The figure of a run is the median
# of its per-second receive rates (the first sample, the ramp, dropped).
# Rounds alternate so both tools see the same machine load; the best round of
# each is compared. Exit 0 when dpsbench >= 0.9 x testpmd.
#
# usage: scripts/dpsbench-selftest.sh [BUILD_DIR] [SECONDS] [ROUNDS]
set -euo pipefail

BUILD=${1:-build}
SECS=${2:-10}
ROUNDS=${3:-2}
DPSBENCH=$BUILD/src/dpsbench/dpsbench
TESTPMD=${TESTPMD:-/usr/bin/dpdk-testpmd}
[ -x "$DPSBENCH" ] || { echo "selftest: $DPSBENCH not built (ninja -C $BUILD src/dpsbench/dpsbench)" >&2; exit 2; }
[ -x "$TESTPMD" ] || { echo "selftest: $TESTPMD not found (apt install dpdk)" >&2; exit 2; }

NCPU=$(nproc)
TX_CPU=$((NCPU > 1 ? 1 : 0))
RX_CPU=0
WORK=$(mktemp -d /tmp/dpsbench-selftest-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
  done
  # testpmd leaves its EAL runtime directory behind; ours carry this pid.
  rm -rf /var/run/dpdk/dpsst-*-$$ 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print(statistics.median(v) if v else 0)' "$@"; }

# Stops a process by pid: SIGINT, then SIGKILL after 10 s.
stop_pid() {
  local pid=$1
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

run_testpmd() {
  local r=$1 sock=$WORK/tp$r.sock
  "$TESTPMD" --lcores "0@(0-$((NCPU - 1))),1@$TX_CPU" --no-huge -m 1024 --no-pci --file-prefix "dpsst-tptx$r-$$" \
    --vdev "net_memif0,role=server,id=0,socket=$sock" -- --forward-mode=txonly --txpkts=60 \
    --stats-period 1 --total-num-mbufs=16384 >"$WORK/tp-tx$r.log" 2>&1 </dev/null &
  local tx=$!; PIDS+=("$tx")
  # A testpmd memif client started before its server listens fails for
  # good: wait for the (abstract) server socket in /proc/net/unix, then for
  # testpmd to start forwarding.
  for _ in $(seq 600); do grep -q "@$sock\$" /proc/net/unix && break; sleep 0.1; done
  for _ in $(seq 600); do grep -qa "start packet forwarding" "$WORK/tp-tx$r.log" && break; sleep 0.1; done
  "$TESTPMD" --lcores "0@(0-$((NCPU - 1))),1@$RX_CPU" --no-huge -m 1024 --no-pci --file-prefix "dpsst-tprx$r-$$" \
    --vdev "net_memif0,role=client,id=0,socket=$sock" -- --forward-mode=rxonly \
    --stats-period 1 --total-num-mbufs=16384 >"$WORK/tp-rx$r.log" 2>&1 </dev/null &
  local rx=$!; PIDS+=("$rx")
  sleep "$((SECS + 2))"
  stop_pid "$tx"; stop_pid "$rx"
  local samples
  # Each "Rx-pps" is measured over the time since the previous print, so it
  # stays exact when a print comes late; drop the first non-zero one (ramp).
  samples=$(grep -a "Rx-pps" "$WORK/tp-rx$r.log" | awk '{print $2}' | awk '$1 > 0')
  [ "$(echo "$samples" | wc -w)" -gt 1 ] && samples=$(echo "$samples" | tail -n +2)
  median $samples
}

run_dpsbench() {
  local r=$1 sock=$WORK/db$r.sock
  "$DPSBENCH" rxonly --port "net_memif0,role=client,id=0,socket=$sock" --cores "$RX_CPU" --idle 1s --link-timeout 60s \
    --interval 1s --timeout "$((SECS + 90))s" --quiet --json-out "$WORK/db-rx$r.json" \
    --file-prefix "dpsst-dbrx$r-$$" -- --no-huge -m 1024 >"$WORK/db-rx$r.log" 2>&1 &
  local rx=$!; PIDS+=("$rx")
  "$DPSBENCH" txonly --port "net_memif0,role=server,id=0,socket=$sock" --cores "$TX_CPU" \
    --frame-size 64 --rate unlimited --duration "${SECS}s" --linger 30s --quiet --json-out "$WORK/db-tx$r.json" \
    --file-prefix "dpsst-dbtx$r-$$" -- --no-huge -m 1024 >"$WORK/db-tx$r.log" 2>&1 || {
      echo "selftest: dpsbench txonly failed:" >&2; cat "$WORK/db-tx$r.log" >&2; }
  for _ in $(seq 300); do kill -0 "$rx" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$rx"
  [ -s "$WORK/db-rx$r.json" ] || { echo "selftest: dpsbench rxonly wrote no results:" >&2; cat "$WORK/db-rx$r.log" >&2; echo 0; return; }
  python3 - "$WORK/db-rx$r.json" <<'PY'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
v = [s["rx_mpps"] * 1e6 for s in d["timeline"] if s["rx_mpps"] > 0]
v = v[1:-1] if len(v) > 2 else v  # the ramp and the partial last interval
print(statistics.median(v) if v else 0)
PY
}

echo "dpsbench selftest: txonly -> rxonly over memif, 64 B frames, ${SECS}s x ${ROUNDS} rounds, tx cpu $TX_CPU, rx cpu $RX_CPU"
best_tp=0; best_db=0
for r in $(seq "$ROUNDS"); do
  tp=$(run_testpmd "$r")
  db=$(run_dpsbench "$r")
  python3 -c "print('round %d: testpmd %8.3f Mpps   dpsbench %8.3f Mpps   ratio %s' % ($r, $tp / 1e6, $db / 1e6, round($db / $tp, 3) if $tp > 0 else '-'))"
  best_tp=$(python3 -c "print(max($best_tp, $tp))")
  best_db=$(python3 -c "print(max($best_db, $db))")
done
ratio=$(python3 -c "print(round($best_db / $best_tp, 3) if $best_tp > 0 else 0)")
python3 -c "print('best:    testpmd %8.3f Mpps   dpsbench %8.3f Mpps   ratio %s (goal >= 0.9)' % ($best_tp / 1e6, $best_db / 1e6, '$ratio'))"
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg) on $NCPU CPUs"
python3 -c "import sys; sys.exit(0 if $ratio >= 0.9 else 1)"
