// test_eal.h - one DPDK EAL per test process, started on first use with
// --no-huge (tests must not depend on hugepages), a private --file-prefix and
// no PCI scan, plus a small shared mbuf pool for tests that build packets.
// (test_eal.cc; part of the test_support library, tests/support/meson.build.
// dp_rig.h builds a whole datapath on this EAL.)
#pragma once

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

namespace dps::test {

// Starts the EAL once with three lcores (0 = main, 1 and 2 = PMD workers),
// mapped onto the CPUs there are (on two CPUs lcore 2 shares CPU 0 with the
// main thread), so multi-PMD tests run anywhere. Aborts the test run when the
// EAL cannot start: every test that calls this needs it.
void ensure_eal();
// Called once by the shared Catch2 main after the run.
void shutdown_eal();

// A process-wide pool for tests that build mbufs by hand.
rte_mempool* test_pool();

// Copies a frame into a fresh mbuf from test_pool().
rte_mbuf* make_mbuf(const std::vector<uint8_t>& frame);

// The bytes of a single-segment mbuf.
std::vector<uint8_t> mbuf_bytes(const rte_mbuf* m);

}  // namespace dps::test
