// huge_mem.h - anonymous memory backed by transparent huge pages, for the
// per-flow records of the datapath (FlowArena) and of ofproto (ukeys).
//
// What: huge_map() reserves a zero-filled, 2 MB-aligned range of anonymous
// memory and asks the kernel to back it with 2 MB pages (MADV_HUGEPAGE);
// nothing is touched, so a range costs address space, not memory, until it
// is used. huge_unmap() returns it.
//
// Design: the miss path writes one datapath flow (~1.2 KB) and one ukey per
// new megaflow into memory nobody touched before; with 4 KB pages that is a
// page fault (kernel entry, page zeroing, page-table update) every few
// flows, ~20% of the ofproto thread during a flow-setup storm. A 2 MB page
// is one fault per ~1700 flows. When the kernel has transparent huge pages
// disabled (or none free), the range simply falls back to 4 KB pages: same
// behaviour as malloc'd memory. huge_prefault() touches a range once (one
// write per 4 KB page) to take those faults at a time of the caller's
// choosing.
//
// Thread-safety: the functions are thread-safe; the memory is the caller's.
#pragma once

#include <cstddef>

namespace dps::base {

// The x86-64 huge page size; ranges are aligned and rounded up to it.
inline constexpr size_t kHugePageSize = size_t{2} << 20;

// Returns null when the address space cannot be reserved.
void* huge_map(size_t bytes);
// p and bytes as given to / returned by huge_map().
void huge_unmap(void* p, size_t bytes);
// Touches [p, p + bytes) with one write access per 4 KB page (contents
// unchanged); the pages become resident.
void huge_prefault(void* p, size_t bytes);

}  // namespace dps::base
