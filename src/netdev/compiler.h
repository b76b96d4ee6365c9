// compiler.h - branch hints, cache-line constants and clang thread-safety
// capability macros shared by every component (the lowest layer owns them).
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

// Clang -Wthread-safety annotations; no-ops under GCC.
#if defined(__clang__)
#define DPS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define DPS_THREAD_ANNOTATION(x)
#endif
#define DPS_CAPABILITY(x) DPS_THREAD_ANNOTATION(capability(x))
#define DPS_GUARDED_BY(x) DPS_THREAD_ANNOTATION(guarded_by(x))
#define DPS_REQUIRES(...) DPS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define DPS_EXCLUDES(...) DPS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
