// Precompiled header for the test executables: Catch2 is the slowest header
// to parse and every test file includes it.
#include <catch2/catch.hpp>
