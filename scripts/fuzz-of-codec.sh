#!/usr/bin/env bash
# Builds the OpenFlow decoder fuzz target with clang (libFuzzer + ASan +
# UBSan, outside the meson/gcc build) and runs it for N seconds from the
# corpus of valid messages in tests/fuzz/corpus_of/.
#
#   scripts/fuzz-of-codec.sh [SECONDS=30] [extra libFuzzer args...]
#
# Exits non-zero on any crash, leak or sanitizer report. New inputs found
# are written to a scratch corpus (not the checked-in seed corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
CXX=${CXX_FUZZ:-clang++}
if ! command -v "$CXX" >/dev/null; then
  echo "fuzz-of-codec: $CXX not found (apt-get install clang)" >&2
  exit 1
fi
# Meson's of-codec-fuzz test sets FUZZ_BUILD_DIR to a directory of its
# build dir (absolute), so a clean clone needs nothing else.
out=${FUZZ_BUILD_DIR:-build-fuzz}
mkdir -p "$out"
bin="$out/of_codec_fuzz"
srcs=(tests/fuzz/of_codec_fuzz.cc src/ofproto/wire/*.cc)
# Rebuild only when a source changed. Each source compiles on its own
# through ccache when it is installed (the Makefile makes its cache valid
# across checkouts), so a clean clone links cached objects.
if [[ ! -x "$bin" ]] || [[ -n "$(find "${srcs[@]}" src/ofproto/wire/*.h src/base/*.h -newer "$bin" 2>/dev/null | head -1)" ]]; then
  echo "fuzz-of-codec: building $bin"
  cc=("$CXX")
  command -v ccache >/dev/null && cc=(ccache "$CXX")
  flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
         -march=x86-64-v3 -Wno-deprecated-volatile -Isrc/ofproto/wire -Isrc/base)
  # shellcheck disable=SC2207
  flags+=($(pkg-config --cflags libdpdk 2>/dev/null))
  objs=() pids=()
  for s in "${srcs[@]}"; do
    objs+=("$out/$(basename "${s%.cc}").o")
    "${cc[@]}" "${flags[@]}" -c "$s" -o "${objs[-1]}" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done  # set -e: a failed compile stops here
  "$CXX" -fsanitize=fuzzer,address,undefined "${objs[@]}" -o "$bin"
fi
scratch="$out/corpus_of"
mkdir -p "$scratch"
log="$out/of_codec_fuzz.log"
status=0
"$bin" -max_total_time="$secs" -max_len=8192 -print_final_stats=1 -artifact_prefix="$out/" "$@" \
  "$scratch" tests/fuzz/corpus_of >"$log" 2>&1 || status=$?
grep -E "^#[0-9]+ +(INITED|DONE)|ERROR|SUMMARY|stat::number_of_executed_units" "$log" || true
if [[ $status -ne 0 ]]; then tail -40 "$log" >&2; fi
execs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" || echo 0)
echo "fuzz-of-codec: ${execs} execs in ${secs}s, exit ${status}"
exit "$status"
