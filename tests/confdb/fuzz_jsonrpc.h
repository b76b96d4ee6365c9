// fuzz_jsonrpc.h - one fuzz iteration over the JSON-RPC/transaction layer,
// shared by the libFuzzer target (fuzz_jsonrpc_main.cc, clang only) and the
// corpus replay test in confdb_test (any compiler).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dps::confdb::test {

// Feeds `data` as a byte stream from one client into a fresh server and
// store. Aborts if an invariant breaks: a rejected transaction changed the
// database, a reply lacks id/result/error, or an exception escaped.
void fuzz_one(const uint8_t* data, size_t size);

}  // namespace dps::confdb::test
