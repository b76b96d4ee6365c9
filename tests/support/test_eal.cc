#include "test_eal.h"

#include <rte_errno.h>
#include <rte_lcore.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

namespace dps::test {

namespace {
bool eal_started = false;
}  // namespace

void ensure_eal() {
  if (eal_started) return;
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
  eal_started = true;
}

void shutdown_eal() {
  if (eal_started) rte_eal_cleanup();
}

rte_mempool* test_pool() {
  static rte_mempool* pool = nullptr;
  if (!pool) {
    ensure_eal();
    pool = rte_pktmbuf_pool_create("test_pool", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                   SOCKET_ID_ANY);
    if (!pool) std::abort();
  }
  return pool;
}

rte_mbuf* make_mbuf(const std::vector<uint8_t>& frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(test_pool());
  if (!m) std::abort();
  char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  if (!p) std::abort();
  std::copy(frame.begin(), frame.end(), p);
  return m;
}

std::vector<uint8_t> mbuf_bytes(const rte_mbuf* m) {
  const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
  return std::vector<uint8_t>(p, p + rte_pktmbuf_data_len(m));
}

}  // namespace dps::test
