// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011). Element i of a request is a
// pure function of (seed, offset + i), so results do not depend on thread count or device: the
// CUDA kernels call the same functions. A Generator only hands out counter ranges.
#pragma once
#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define LORY_HD __host__ __device__
#else
#define LORY_HD
#endif

namespace lory {

struct Philox4x32 {
  uint32_t v[4];
};

// One Philox4x32-10 block for a 64-bit counter and a 64-bit key.
LORY_HD inline Philox4x32 philox4x32(uint64_t counter, uint64_t key) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// Uniform in [0, 1) with 53 random bits, for element `index` of stream `seed`.
LORY_HD inline double uniform_at(uint64_t seed, uint64_t index) {
  Philox4x32 r = philox4x32(index, seed);
  uint64_t bits = (static_cast<uint64_t>(r.v[0]) << 21) ^ (r.v[1] >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// Standard normal for element `index` of stream `seed` (Box-Muller on one Philox block).
LORY_HD inline double normal_at(uint64_t seed, uint64_t index) {
  Philox4x32 r = philox4x32(index, seed);
  uint64_t a = (static_cast<uint64_t>(r.v[0]) << 21) ^ (r.v[1] >> 11);
  uint64_t b = (static_cast<uint64_t>(r.v[2]) << 21) ^ (r.v[3] >> 11);
  double u1 = (static_cast<double>(a & ((1ull << 53) - 1)) + 1.0) * (1.0 / 9007199254740993.0);
  double u2 = static_cast<double>(b & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

// Hands out disjoint counter ranges of one seeded stream; its state is (seed, offset).
class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t offset = 0) : seed_(seed), offset_(offset) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  // Reserves n counters and returns the first.
  uint64_t advance(uint64_t n) {
    uint64_t first = offset_;
    offset_ += n;
    return first;
  }
  double uniform() { return uniform_at(seed_, advance(1)); }
  double normal() { return normal_at(seed_, advance(1)); }
  // An integer in [0, n), for shuffles.
  uint64_t below(uint64_t n) { return static_cast<uint64_t>(uniform() * static_cast<double>(n)); }

 private:
  uint64_t seed_;
  uint64_t offset_;
};

}  // namespace lory
