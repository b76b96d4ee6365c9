// test_eal.h - one DPDK EAL per test process, started on first use with
// --no-huge (tests must not depend on hugepages), a private --file-prefix and
// no PCI scan, plus a small shared mbuf pool for tests that build packets.
#pragma once

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

namespace dps::test {

inline bool& eal_started() {
  static bool started = false;
  return started;
}

// Starts the EAL once with three lcores (0 = main, 1 and 2 = PMD workers),
// mapped onto the CPUs there are (on two CPUs lcore 2 shares CPU 0 with the
// main thread), so multi-PMD tests run anywhere. Aborts the test run when the
// EAL cannot start: every test that calls this needs it.
inline void ensure_eal() {
  if (eal_started()) return;
  std::string prefix = "dps-test-" + std::to_string(getpid());
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  std::string lcores = cpus > 2 ? "0@0,1@1,2@2" : cpus > 1 ? "0@0,1@1,2@0" : "0@0,1@0,2@0";
  std::vector<std::string> args = {"dps-test", "--lcores", lcores, "--no-huge", "-m", "512",
                                   "--no-pci", "--file-prefix", prefix,
                                   "--log-level", "lib.eal:error", "--no-telemetry"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    std::fprintf(stderr, "test EAL init failed: %s\n", rte_strerror(rte_errno));
    std::abort();
  }
  eal_started() = true;
}

inline void shutdown_eal() {
  if (eal_started()) rte_eal_cleanup();
}

// A process-wide pool for tests that build mbufs by hand.
inline rte_mempool* test_pool() {
  static rte_mempool* pool = nullptr;
  if (!pool) {
    ensure_eal();
    pool = rte_pktmbuf_pool_create("test_pool", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                   SOCKET_ID_ANY);
    if (!pool) std::abort();
  }
  return pool;
}

// Copies a frame into a fresh mbuf from test_pool().
inline rte_mbuf* make_mbuf(const std::vector<uint8_t>& frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(test_pool());
  if (!m) std::abort();
  char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  if (!p) std::abort();
  std::copy(frame.begin(), frame.end(), p);
  return m;
}

inline std::vector<uint8_t> mbuf_bytes(const rte_mbuf* m) {
  const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
  return std::vector<uint8_t>(p, p + rte_pktmbuf_data_len(m));
}

}  // namespace dps::test
