// libFuzzer entry point (clang -fsanitize=fuzzer). Run:
//   tests/confdb/build-fuzz.sh && /tmp/dps-fuzz/fuzz_jsonrpc tests/confdb/fuzz_corpus -max_total_time=60
#include "fuzz_jsonrpc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dps::confdb::test::fuzz_one(data, size);
  return 0;
}
