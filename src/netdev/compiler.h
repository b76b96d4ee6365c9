// compiler.h - branch hints and cache-line constants shared by every
// component (the lowest layer owns them).
#pragma once

#include <cstddef>

#define DPS_LIKELY(x) __builtin_expect(!!(x), 1)
#define DPS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define DPS_COLD [[gnu::noinline, gnu::cold]]
#define DPS_ALWAYS_INLINE [[gnu::always_inline]] inline

namespace dps {
// 64 B on every x86-64 part we target; std::hardware_destructive_interference_size
// is not stable across GCC versions (-Winterference-size), so fix it here.
inline constexpr std::size_t kCacheLine = 64;
}  // namespace dps
