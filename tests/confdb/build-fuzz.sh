#!/usr/bin/env bash
# Builds the libFuzzer target for the JSON-RPC/transaction layer with clang
# (the main build may use gcc) and optionally runs it for a short time:
#   tests/confdb/build-fuzz.sh [SECONDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${DPS_FUZZ_OUT:-/tmp/dps-fuzz}
mkdir -p "$out"
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined \
  -DDPS_SCHEMA_PATH="\"$root/src/confdb/vswitch.ovsschema\"" -DDPS_TESTSERVER_PATH='""' \
  -I"$root/src/confdb" -I"$root/src/confdb/framing" -I"$here" \
  "$here/fuzz_jsonrpc_main.cc" "$here/fuzz_jsonrpc.cc" "$root"/src/confdb/*.cc "$root"/src/confdb/framing/*.cc \
  $(pkg-config --cflags --libs spdlog) -lpthread -o "$out/fuzz_jsonrpc"
echo "built $out/fuzz_jsonrpc"
if [ "${1:-}" ]; then
  mkdir -p "$out/corpus"
  cp -n "$here"/fuzz_corpus/* "$out/corpus/" 2>/dev/null || true
  "$out/fuzz_jsonrpc" "$out/corpus" -max_total_time="$1" -rss_limit_mb=2048
fi
