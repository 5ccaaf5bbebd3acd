// The 6 × 16 float32 micro-kernel of the packed GEMM (core/cpu/gemm.cpp), as an inline function
// that leaves the tile in registers, so that a caller can use the tile before it is stored: the
// GEMM stores it, the Lory FFN's backward folds it into the expert gradients (ops/lory_ffn_kernels.h).
//
// Per step of the depth it loads 16 values of the packed B panel and broadcasts 6 of the packed
// A panel: 12 FMAs against 8 loads, so it runs at the FMA units' rate from L1/L2.
#pragma once

#include <cstdint>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define LORY_MICRO_KERNEL_AVX2 1

namespace lory::cpu {

// Row i of the tile is (c[i][0], c[i][1]): columns 0-7 and 8-15.
struct Tile6x16 {
  __m256 c[6][2];
};

// a: kc × 6 (k-major), b: kc × 16 (k-major), as pack_a / pack_b lay out one panel each.
// The sums run over k in ascending order, one FMA per value per step.
inline Tile6x16 micro_6x16(int64_t kc, const float* a, const float* b) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
         c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t k = 0; k < kc; ++k, a += 6, b += 16) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    __m256 ai = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(ai, b0, c00), c01 = _mm256_fmadd_ps(ai, b1, c01);
    ai = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ai, b0, c10), c11 = _mm256_fmadd_ps(ai, b1, c11);
    ai = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ai, b0, c20), c21 = _mm256_fmadd_ps(ai, b1, c21);
    ai = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ai, b0, c30), c31 = _mm256_fmadd_ps(ai, b1, c31);
    ai = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ai, b0, c40), c41 = _mm256_fmadd_ps(ai, b1, c41);
    ai = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ai, b0, c50), c51 = _mm256_fmadd_ps(ai, b1, c51);
  }
  return {{{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}}};
}

}  // namespace lory::cpu
#endif
