// A std::vector whose data start on a 64-byte boundary (a cache line, and an AVX-512 vector).
// std::vector's allocator aligns to 16 bytes only: a 16-float row of a packed panel then spans two
// cache lines and one of its two AVX loads crosses a line, which cost the 6 × 16 micro-kernel about
// a fifth of its rate (75 against 96-100 GFLOP/s on one core with its operands in L1).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace lory::cpu {

template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::size_t kAlign = 64;

  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}

  T* allocate(std::size_t n) {
    const std::size_t bytes = (n * sizeof(T) + kAlign - 1) / kAlign * kAlign;  // aligned_alloc's rule
    if (void* p = std::aligned_alloc(kAlign, bytes)) return static_cast<T*>(p);
    throw std::bad_alloc();
  }
  void deallocate(T* p, std::size_t) { std::free(p); }

  template <typename U>
  bool operator==(const CacheLineAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const CacheLineAllocator<U>&) const {
    return false;
  }
};

template <typename T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace lory::cpu
