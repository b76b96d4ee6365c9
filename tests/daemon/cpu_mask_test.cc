#include <catch2/catch.hpp>

#include "daemon/reconciler.h"

using dps::daemon::parse_cpu_mask;

TEST_CASE("pmd-cpu-mask parses like OVS: hex with or without 0x, any length", "[daemon]") {
  std::string err;
  CHECK(parse_cpu_mask("0x6", &err) == std::vector<unsigned>{1, 2});
  CHECK(parse_cpu_mask("6", &err) == std::vector<unsigned>{1, 2});
  CHECK(parse_cpu_mask("0XaA", &err) == std::vector<unsigned>{1, 3, 5, 7});
  CHECK(parse_cpu_mask("100000000000000000", &err) == std::vector<unsigned>{68});
  CHECK(parse_cpu_mask("0x8000000000000001", &err) == std::vector<unsigned>{0, 63});
}

TEST_CASE("pmd-cpu-mask errors say what is wrong", "[daemon]") {
  std::string err;
  CHECK_FALSE(parse_cpu_mask("0x", &err));
  CHECK(err == "is empty");
  CHECK_FALSE(parse_cpu_mask("0x0", &err));
  CHECK(err == "selects no core");
  CHECK_FALSE(parse_cpu_mask("0x1g", &err));
  CHECK(err.find("'g'") != std::string::npos);
}
