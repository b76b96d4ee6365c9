#include "huge_mem.h"

#include <sys/mman.h>

#include <cstdint>

namespace dps::base {

namespace {

size_t round_up(size_t n) { return (n + kHugePageSize - 1) & ~(kHugePageSize - 1); }

}  // namespace

void* huge_map(size_t bytes) {
  const size_t len = round_up(bytes == 0 ? 1 : bytes);
  // Over-reserve by one huge page, then trim both ends to 2 MB alignment.
  void* raw = mmap(nullptr, len + kHugePageSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  auto start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (start + kHugePageSize - 1) & ~(uintptr_t{kHugePageSize} - 1);
  if (aligned > start) munmap(raw, aligned - start);
  uintptr_t end = start + len + kHugePageSize;
  if (end > aligned + len) munmap(reinterpret_cast<void*>(aligned + len), end - (aligned + len));
  void* p = reinterpret_cast<void*>(aligned);
  (void)madvise(p, len, MADV_HUGEPAGE);  // advice: may fail (THP off), 4 KB pages then
  return p;
}

void huge_unmap(void* p, size_t bytes) {
  if (p) munmap(p, round_up(bytes == 0 ? 1 : bytes));
}

void huge_prefault(void* p, size_t bytes) {
  // An atomic add of zero is a write access (one fault, not a read fault
  // on the zero page then a write fault) that keeps whatever is there.
  auto* c = static_cast<char*>(p);
  for (size_t off = 0; off < bytes; off += 4096) __atomic_fetch_add(c + off, 0, __ATOMIC_RELAXED);
}

}  // namespace dps::base
