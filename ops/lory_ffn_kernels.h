// The inner kernels of lory_ffn (ops/lory_ffn.cpp) for a group of segments j = 0..sg-1 and the
// E experts i:
//   merge:           out_j[c] = Σ_i r[j,i] · w_i[c]            (merged weight tiles, forward and
//                                                             backward)
// and, on one tile of G, the two folds of the backward pass:
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
#define LORY_LORY_KERNELS_AVX2 1
#endif

namespace lory::ops::lory_kernels {

// out[j·n + c] = Σ_i r[j·E + i] · w[i·stride + c], c < n, j < sg: the E terms of every value are
// added in the order i = 0, 1, ...
template <typename Real>
void merge_portable(int64_t E, int64_t sg, const Real* r, const Real* w, int64_t stride, int64_t n,
                    Real* out) {
  for (int64_t j = 0; j < sg; ++j)
    for (int64_t c = 0; c < n; ++c) {
      Real acc = r[j * E] * w[c];
      for (int64_t i = 1; i < E; ++i) acc += r[j * E + i] * w[i * stride + c];
      out[j * n + c] = acc;
    }
}

struct Tile {
  int64_t mb, nb;         // rows and columns of the tile
  int64_t g_stride;       // between the G tiles of consecutive segments
  int64_t row_stride;     // between rows of W and dW
  int64_t expert_stride;  // between experts of W and dW
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

#ifdef LORY_LORY_KERNELS_AVX2
// 4 segments × 16 values in 8 registers: each expert value loaded once feeds 4 FMAs (the merge is
// bound by these loads, from L2). n a multiple of 16.
inline void merge4_avx2(int64_t E, const float* r, const float* w, int64_t stride, int64_t n,
                        float* out) {
  for (int64_t c = 0; c < n; c += 16) {
    __m256 acc[4][2];
    const __m256 w0 = _mm256_loadu_ps(w + c), w1 = _mm256_loadu_ps(w + c + 8);
    for (int j = 0; j < 4; ++j) {
      const __m256 rj = _mm256_broadcast_ss(r + j * E);
      acc[j][0] = _mm256_mul_ps(rj, w0);
      acc[j][1] = _mm256_mul_ps(rj, w1);
    }
    for (int64_t i = 1; i < E; ++i) {
      const __m256 v0 = _mm256_loadu_ps(w + i * stride + c),
                   v1 = _mm256_loadu_ps(w + i * stride + c + 8);
      for (int j = 0; j < 4; ++j) {
        const __m256 rj = _mm256_broadcast_ss(r + j * E + i);
        acc[j][0] = _mm256_fmadd_ps(rj, v0, acc[j][0]);
        acc[j][1] = _mm256_fmadd_ps(rj, v1, acc[j][1]);
      }
    }
    for (int j = 0; j < 4; ++j) {
      _mm256_storeu_ps(out + j * n + c, acc[j][0]);
      _mm256_storeu_ps(out + j * n + c + 8, acc[j][1]);
    }
  }
}

// Both fold kernels walk the tile in bands of kBand rows, so that the band's rows of G (all sg
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
          for (int q = 0; q < 4; ++q)
            acc[jj][q] = _mm256_loadu_ps(lanes + ((j0 + jj) * E + i0 + q) * 8);
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
          for (int q = 0; q < 4; ++q)
            _mm256_storeu_ps(lanes + ((j0 + jj) * E + i0 + q) * 8, acc[jj][q]);
      }
  for (int64_t k = 0; k < sg * E; ++k) dots[k] = sum_lanes(lanes + k * 8);
}
#endif

// Merges groups of 4 segments with the AVX2 kernel where it applies; sg <= 4.
template <typename Real>
void merge(int64_t E, int64_t sg, const Real* r, const Real* w, int64_t stride, int64_t n,
           Real* out) {
#ifdef LORY_LORY_KERNELS_AVX2
  if constexpr (std::is_same_v<Real, float>)
    if (sg == 4 && n % 16 == 0) return merge4_avx2(E, r, w, stride, n, out);
#endif
  merge_portable(E, sg, r, w, stride, n, out);
}

template <typename Real>
void fold_gradients(const Tile& t, int64_t E, int64_t sg, const Real* r, const Real* g, Real* dw) {
#ifdef LORY_LORY_KERNELS_AVX2
  if constexpr (std::is_same_v<Real, float>)
    if (E % 4 == 0 && t.nb % 16 == 0) return fold_gradients_avx2(t, E, sg, r, g, dw);
#endif
  fold_gradients_portable(t, E, sg, r, g, dw);
}

// lanes: scratch of sg·E·8 values.
template <typename Real>
void fold_dots(const Tile& t, int64_t E, int64_t sg, const Real* g, const Real* w, Real* dots,
               Real* lanes) {
#ifdef LORY_LORY_KERNELS_AVX2
  if constexpr (std::is_same_v<Real, float>)
    if (E % 4 == 0 && sg % 2 == 0 && t.nb % 8 == 0)
      return fold_dots_avx2(t, E, sg, g, w, dots, lanes);
#endif
  fold_dots_portable(t, E, sg, g, w, dots);
}

}  // namespace lory::ops::lory_kernels
