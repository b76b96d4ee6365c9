#include "eal.h"

#include <rte_eal.h>
#include <rte_errno.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

namespace dps::netdev {
namespace {

bool has_arg(const std::vector<std::string>& args, const std::string& a) {
  return std::any_of(args.begin(), args.end(), [&](const std::string& s) {
    return s == a || s.rfind(a + "=", 0) == 0;
  });
}

bool hugetlbfs_mounted() {
  std::ifstream mounts("/proc/mounts");
  std::string dev, dir, type;
  std::string rest;
  while (mounts >> dev >> dir >> type && std::getline(mounts, rest))
    if (type == "hugetlbfs") return true;
  return false;
}

}  // namespace

unsigned Eal::free_hugepage_mb() {
  if (!hugetlbfs_mounted()) return 0;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  unsigned long value = 0, free_pages = 0, page_kb = 0;
  std::string unit;
  while (meminfo >> key >> value) {
    if (key == "HugePages_Free:") free_pages = value;
    if (key == "Hugepagesize:") page_kb = value;
    std::getline(meminfo, unit);
  }
  return static_cast<unsigned>(free_pages * page_kb / 1024);
}

Eal::Eal(const std::string& program, const EalOptions& opts) {
  argv_.push_back(program);
  argv_.insert(argv_.end(), opts.args.begin(), opts.args.end());
  if (!has_arg(opts.args, "--file-prefix") && !has_arg(opts.args, "--in-memory")) {
    std::string prefix = opts.file_prefix.empty()
                             ? "dps-" + program + "-" + std::to_string(getpid())
                             : opts.file_prefix;
    argv_.insert(argv_.end(), {"--file-prefix", prefix});
  }
  if (has_arg(opts.args, "--no-huge")) {
    hugepages_ = false;
  } else {
    unsigned free_mb = free_hugepage_mb();
    if (free_mb < opts.min_huge_mb) {
      spdlog::warn(
          "only {} MB of free hugepages (need {} MB): running with --no-huge -m {}; "
          "reserve hugepages (echo N > /proc/sys/vm/nr_hugepages) for full speed",
          free_mb, opts.min_huge_mb, opts.no_huge_mb);
      argv_.push_back("--no-huge");
      if (!has_arg(opts.args, "-m") && !has_arg(opts.args, "--socket-mem"))
        argv_.insert(argv_.end(), {"-m", std::to_string(opts.no_huge_mb)});
      hugepages_ = false;
    } else {
      hugepages_ = true;
    }
  }
  if (hugepages_ == false) {
    // --socket-mem needs hugepages; -m replaces it.
    for (size_t i = 0; i + 1 < argv_.size(); i++)
      if (argv_[i] == "--socket-mem") {
        argv_[i] = "-m";
        auto& v = argv_[i + 1];
        v = v.substr(0, v.find(','));
      }
  }
  std::vector<char*> cargv;
  for (auto& a : argv_) cargv.push_back(a.data());
  std::string joined;
  for (auto& a : argv_) joined += a + " ";
  spdlog::info("EAL: {}", joined);
  if (rte_eal_init(static_cast<int>(cargv.size()), cargv.data()) < 0)
    throw std::runtime_error(std::string("EAL initialisation failed: ") +
                             rte_strerror(rte_errno) + " (arguments: " + joined + ")");
}

Eal::~Eal() { rte_eal_cleanup(); }

}  // namespace dps::netdev
