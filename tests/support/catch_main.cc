// Catch2 main shared by every test executable. The EAL, when a test needs
// one, is started lazily by test_eal.h and torn down here after the run.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "test_eal.h"

int main(int argc, char** argv) {
  int rc = Catch::Session().run(argc, argv);
  dps::test::shutdown_eal();
  return rc;
}
