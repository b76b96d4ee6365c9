// Coverage goal: the fuzz harness's invariants hold on the seed corpus and on
// a bounded number of deterministic mutations of it (byte flips, truncation,
// splices), so the fuzz target runs on every CI build even without clang.
#include <catch2/catch.hpp>

#include "confdb_test_util.h"
#include "fuzz_jsonrpc.h"

#include <fstream>
#include <random>

using namespace dps::confdb::test;

TEST_CASE("fuzz harness: corpus replay and mutations", "[confdb][fuzz]") {
  std::vector<std::string> seeds;
  for (auto& e : std::filesystem::directory_iterator(DPS_FUZZ_CORPUS)) {
    std::ifstream f(e.path());
    seeds.emplace_back((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }
  REQUIRE(seeds.size() >= 5);
  for (auto& s : seeds) fuzz_one(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  std::mt19937 rng(12345);
  const char* tokens[] = {"{", "}", "[", "]", "\"", ",", ":", "0", "-1", "null", "true", "\"uuid\"",
                          "\"named-uuid\"", "\"set\"", "\"map\"", "9223372036854775807", "1e308"};
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits && !s.empty(); ++k) {
      size_t pos = rng() % s.size();
      switch (rng() % 4) {
        case 0: s[pos] = static_cast<char>(rng()); break;
        case 1: s.erase(pos, 1 + rng() % 8); break;
        case 2: s.insert(pos, tokens[rng() % std::size(tokens)]); break;
        default: {
          const std::string& o = seeds[rng() % seeds.size()];
          s.insert(pos, o.substr(rng() % o.size(), 1 + rng() % 40));
        }
      }
    }
    fuzz_one(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  SUCCEED("no invariant broke");
}
