// eal.h - RAII ownership of the DPDK Environment Abstraction Layer.
//
// What: builds the EAL argument list (user arguments plus what the process
// needs: a unique --file-prefix, and --no-huge when hugepages are missing or
// too few), calls rte_eal_init once and rte_eal_cleanup on destruction.
//
// Thread-safety: construct and destroy on the main thread only, before any
// lcore is launched / after all have been joined.
#pragma once

#include <string>
#include <vector>

namespace dps::netdev {

struct EalOptions {
  std::vector<std::string> args;  // EAL arguments as the user gave them
  std::string file_prefix;        // empty: "dps-<program>-<pid>"
  unsigned min_huge_mb = 512;     // below this many free MB: fall back to --no-huge
  unsigned no_huge_mb = 1024;     // -m when falling back
};

class Eal {
 public:
  // Throws std::runtime_error with DPDK's reason when rte_eal_init fails.
  Eal(const std::string& program, const EalOptions& opts);
  ~Eal();
  Eal(const Eal&) = delete;
  Eal& operator=(const Eal&) = delete;

  bool hugepages() const { return hugepages_; }
  const std::vector<std::string>& argv() const { return argv_; }

  // Free 2 MiB (or default-size) hugepages in MB on a mounted hugetlbfs; 0 when
  // none are mounted or reserved.
  static unsigned free_hugepage_mb();

 private:
  bool hugepages_ = false;
  std::vector<std::string> argv_;
};

}  // namespace dps::netdev
