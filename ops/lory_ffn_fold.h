// The two folds of lory_ffn's backward pass (ops/lory_ffn.cpp), on one tile of G for a group
// of segments j = 0..sg-1 and the E experts i:
//   fold_gradients:  dW_i[tile] += Σ_j r[j,i] · G_j[tile]
//   fold_dots:       dots[j·E + i] = ⟨G_j[tile], W_i[tile]⟩
// G_j is (mb × nb) row-major at g + j·g_stride; expert i's tile of W or dW starts at
// base + i·expert_stride with rows row_stride apart. r is (sg × E) row-major.
// Register-blocked AVX2 kernels for float32 (4 experts × 16 columns, and 4 experts × 2 segments
// of dot products, in flight at once: the portable loops run at a quarter of the FMA rate, bound
// by the latency of one accumulator chain and by reloading G); portable loops otherwise. Each
// value is summed in a fixed order (j, or rows then columns by lane), whatever thread runs it.
#pragma once

#include <cstdint>
#include <type_traits>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define LORY_FOLD_AVX2 1
#endif

namespace lory::ops::fold {

struct Tile {
  int64_t mb, nb;           // rows and columns of the tile
  int64_t g_stride;         // between the G tiles of consecutive segments
  int64_t row_stride;       // between rows of W and dW
  int64_t expert_stride;    // between experts of W and dW
};

template <typename Real>
void fold_gradients_portable(const Tile& t, int64_t E, int64_t sg, const Real* r, const Real* g,
                             Real* dw) {
  for (int64_t i = 0; i < E; ++i)
    for (int64_t rr = 0; rr < t.mb; ++rr) {
      Real* d = dw + i * t.expert_stride + rr * t.row_stride;
      for (int64_t c = 0; c < t.nb; ++c) {
        Real acc = d[c];
        for (int64_t j = 0; j < sg; ++j) acc += r[j * E + i] * g[j * t.g_stride + rr * t.nb + c];
        d[c] = acc;
      }
    }
}

template <typename Real>
void fold_dots_portable(const Tile& t, int64_t E, int64_t sg, const Real* g, const Real* w,
                        Real* dots) {
  for (int64_t j = 0; j < sg; ++j)
    for (int64_t i = 0; i < E; ++i) {
      Real acc = 0;
      for (int64_t rr = 0; rr < t.mb; ++rr) {
        const Real* gr = g + j * t.g_stride + rr * t.nb;
        const Real* wr = w + i * t.expert_stride + rr * t.row_stride;
        for (int64_t c = 0; c < t.nb; ++c) acc += gr[c] * wr[c];
      }
      dots[j * E + i] = acc;
    }
}

#ifdef LORY_FOLD_AVX2
// Both kernels walk the tile in bands of kBand rows, so that the band's rows of G (all sg
// segments) and of W or dW (all E experts) stay in L1 while every block of experts and segments
// passes over them.
constexpr int64_t kBand = 8;

// E a multiple of 4, nb a multiple of 16.
inline void fold_gradients_avx2(const Tile& t, int64_t E, int64_t sg, const float* r,
                                const float* g, float* dw) {
  for (int64_t b0 = 0; b0 < t.mb; b0 += kBand)
    for (int64_t i0 = 0; i0 < E; i0 += 4)
      for (int64_t rr = b0; rr < b0 + kBand && rr < t.mb; ++rr)
        for (int64_t c = 0; c < t.nb; c += 16) {
          float* d[4];
          __m256 acc[4][2];
          for (int q = 0; q < 4; ++q) {
            d[q] = dw + (i0 + q) * t.expert_stride + rr * t.row_stride + c;
            acc[q][0] = _mm256_loadu_ps(d[q]);
            acc[q][1] = _mm256_loadu_ps(d[q] + 8);
          }
          const float* gp = g + rr * t.nb + c;
          for (int64_t j = 0; j < sg; ++j, gp += t.g_stride) {
            const __m256 g0 = _mm256_loadu_ps(gp), g1 = _mm256_loadu_ps(gp + 8);
            for (int q = 0; q < 4; ++q) {
              const __m256 rq = _mm256_broadcast_ss(r + j * E + i0 + q);
              acc[q][0] = _mm256_fmadd_ps(rq, g0, acc[q][0]);
              acc[q][1] = _mm256_fmadd_ps(rq, g1, acc[q][1]);
            }
          }
          for (int q = 0; q < 4; ++q) {
            _mm256_storeu_ps(d[q], acc[q][0]);
            _mm256_storeu_ps(d[q] + 8, acc[q][1]);
          }
        }
}

inline float sum_lanes(const float* l) {  // 8 lanes added in a fixed order
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

// E a multiple of 4, sg a multiple of 2, nb a multiple of 8. lanes: sg·E·8 floats of scratch.
inline void fold_dots_avx2(const Tile& t, int64_t E, int64_t sg, const float* g, const float* w,
                           float* dots, float* lanes) {
  for (int64_t k = 0; k < sg * E * 8; ++k) lanes[k] = 0.0f;
  for (int64_t b0 = 0; b0 < t.mb; b0 += kBand)
    for (int64_t j0 = 0; j0 < sg; j0 += 2)
      for (int64_t i0 = 0; i0 < E; i0 += 4) {
        __m256 acc[2][4];
        for (int jj = 0; jj < 2; ++jj)
          for (int q = 0; q < 4; ++q) acc[jj][q] = _mm256_loadu_ps(lanes + ((j0 + jj) * E + i0 + q) * 8);
        for (int64_t rr = b0; rr < b0 + kBand && rr < t.mb; ++rr) {
          const float* g0 = g + j0 * t.g_stride + rr * t.nb;
          const float* g1 = g0 + t.g_stride;
          const float* wr = w + i0 * t.expert_stride + rr * t.row_stride;
          for (int64_t c = 0; c < t.nb; c += 8) {
            const __m256 a0 = _mm256_loadu_ps(g0 + c), a1 = _mm256_loadu_ps(g1 + c);
            for (int q = 0; q < 4; ++q) {
              const __m256 wq = _mm256_loadu_ps(wr + q * t.expert_stride + c);
              acc[0][q] = _mm256_fmadd_ps(a0, wq, acc[0][q]);
              acc[1][q] = _mm256_fmadd_ps(a1, wq, acc[1][q]);
            }
          }
        }
        for (int jj = 0; jj < 2; ++jj)
          for (int q = 0; q < 4; ++q) _mm256_storeu_ps(lanes + ((j0 + jj) * E + i0 + q) * 8, acc[jj][q]);
      }
  for (int64_t k = 0; k < sg * E; ++k) dots[k] = sum_lanes(lanes + k * 8);
}
#endif

template <typename Real>
void fold_gradients(const Tile& t, int64_t E, int64_t sg, const Real* r, const Real* g,
                    Real* dw) {
#ifdef LORY_FOLD_AVX2
  if constexpr (std::is_same_v<Real, float>)
    if (E % 4 == 0 && t.nb % 16 == 0) return fold_gradients_avx2(t, E, sg, r, g, dw);
#endif
  fold_gradients_portable(t, E, sg, r, g, dw);
}

// lanes: scratch of sg·E·8 values.
template <typename Real>
void fold_dots(const Tile& t, int64_t E, int64_t sg, const Real* g, const Real* w, Real* dots,
               Real* lanes) {
#ifdef LORY_FOLD_AVX2
  if constexpr (std::is_same_v<Real, float>)
    if (E % 4 == 0 && sg % 2 == 0 && t.nb % 8 == 0)
      return fold_dots_avx2(t, E, sg, g, w, dots, lanes);
#endif
  fold_dots_portable(t, E, sg, g, w, dots);
}

}  // namespace lory::ops::fold
