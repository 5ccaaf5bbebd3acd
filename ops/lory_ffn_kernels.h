// The inner kernels of lory_ffn (ops/lory_ffn.cpp):
//   merge:            out_j[c] = Σ_i r[j,i] · w_i[c]    merged weight tiles for a group of
//                                                      segments j (forward and backward)
//   micro_tile_dots,  one segment's 6 × 16 tile of its weight gradient G, computed by the GEMM's
//   fold_segments:    micro-kernel and dotted with the E experts' tiles while still in registers
//                     (the router dot products), then, for a group of segments, folded into the
//                     E expert gradients (float32, AVX2: the backward's fused schedule)
//   fold_gradients,   the same folds of G tiles given in memory, for a group of segments (the
//   fold_dots:        grouped schedule: float64, other targets, segments longer than a GEMM
//                     depth block)
// Each value is summed in a fixed order (segments, then experts, then rows and lanes), whatever
// thread runs it.
#pragma once

#include <cstdint>
#include <type_traits>

#include "core/cpu/micro_kernel.h"
#ifdef LORY_MICRO_KERNEL_AVX2
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

// G_j is (mb × nb) row-major at g + j·g_stride; expert i's tile of W or dW starts at
// base + i·expert_stride with rows row_stride apart. r is (sg × E) row-major.
//   dW_i[tile] += Σ_j r[j,i] · G_j[tile]
template <typename Real>
void fold_gradients(const Tile& t, int64_t E, int64_t sg, const Real* r, const Real* g, Real* dw) {
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

//   dots[j·E + i] = ⟨G_j[tile], W_i[tile]⟩
template <typename Real>
void fold_dots(const Tile& t, int64_t E, int64_t sg, const Real* g, const Real* w, Real* dots) {
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
// SG segments (SG <= 6) × 16 values in 2·SG registers: each expert value loaded once (from L2)
// feeds SG FMAs, the loads that bound the merge. n a multiple of 16. The E terms of every value
// are added in the order i = 0, 1, ... as in merge_portable.
template <int SG>
inline void merge_avx2(int64_t E, const float* r, const float* w, int64_t stride, int64_t n,
                       float* out) {
  for (int64_t c = 0; c < n; c += 16) {
    __m256 acc[SG][2];
    const __m256 w0 = _mm256_loadu_ps(w + c), w1 = _mm256_loadu_ps(w + c + 8);
    for (int j = 0; j < SG; ++j) {
      const __m256 rj = _mm256_broadcast_ss(r + j * E);
      acc[j][0] = _mm256_mul_ps(rj, w0);
      acc[j][1] = _mm256_mul_ps(rj, w1);
    }
    for (int64_t i = 1; i < E; ++i) {
      const __m256 v0 = _mm256_loadu_ps(w + i * stride + c),
                   v1 = _mm256_loadu_ps(w + i * stride + c + 8);
      for (int j = 0; j < SG; ++j) {
        const __m256 rj = _mm256_broadcast_ss(r + j * E + i);
        acc[j][0] = _mm256_fmadd_ps(rj, v0, acc[j][0]);
        acc[j][1] = _mm256_fmadd_ps(rj, v1, acc[j][1]);
      }
    }
    for (int j = 0; j < SG; ++j) {
      _mm256_storeu_ps(out + j * n + c, acc[j][0]);
      _mm256_storeu_ps(out + j * n + c + 8, acc[j][1]);
    }
  }
}

inline float sum_lanes(const float* l) {  // 8 lanes added in a fixed order
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

// The expert tiles of micro_tile_dots and fold_segments: 6 × 16 values each, contiguous.
constexpr int64_t kMicroTile = 6 * 16;

// The E experts' (mm × nn) tiles at src (rows row_stride apart, experts expert_stride apart)
// into the contiguous 6 × 16 tiles of micro_tile_dots, zero-padded; and back.
inline void copy_micro_tiles(int64_t E, const float* src, int64_t row_stride,
                             int64_t expert_stride, int64_t mm, int64_t nn, float* dst) {
  for (int64_t i = 0; i < E; ++i, src += expert_stride, dst += kMicroTile) {
    if (mm == 6 && nn == 16) {
      for (int row = 0; row < 6; ++row) {
        _mm256_storeu_ps(dst + 16 * row, _mm256_loadu_ps(src + row * row_stride));
        _mm256_storeu_ps(dst + 16 * row + 8, _mm256_loadu_ps(src + row * row_stride + 8));
      }
      continue;
    }
    for (int64_t row = 0; row < 6; ++row)
      for (int64_t c = 0; c < 16; ++c)
        dst[16 * row + c] = row < mm && c < nn ? src[row * row_stride + c] : 0.0f;
  }
}

inline void store_micro_tiles(int64_t E, const float* src, int64_t mm, int64_t nn, float* dst,
                              int64_t row_stride, int64_t expert_stride) {
  for (int64_t i = 0; i < E; ++i, src += kMicroTile, dst += expert_stride) {
    if (mm == 6 && nn == 16) {
      for (int row = 0; row < 6; ++row) {
        _mm256_storeu_ps(dst + row * row_stride, _mm256_loadu_ps(src + 16 * row));
        _mm256_storeu_ps(dst + row * row_stride + 8, _mm256_loadu_ps(src + 16 * row + 8));
      }
      continue;
    }
    for (int64_t row = 0; row < mm; ++row)
      for (int64_t c = 0; c < nn; ++c) dst[row * row_stride + c] = src[16 * row + c];
  }
}

// One segment's 6 × 16 tile of G = Aᵀ·B, computed by the GEMM's micro-kernel from the packed
// panels a (kc × 6) and b (kc × 16), stored to g (rows of 16) for fold_segments, and, while it
// is still in registers, dotted with the E experts' tiles of W:
//   lanes[8i .. 8i+8) += Σ_rows G[tile] ⊙ w[i][tile]   (the router dot products by lane; lanes
//                                                       may be null)
// w holds the experts' tiles contiguously (tile i at 96·i, rows of 16): the caller copies them
// out of the experts, whose rows and experts lie a power of two apart in memory and would share
// L1 sets.
inline void micro_tile_dots(int64_t kc, const float* a, const float* b, int64_t E, const float* w,
                            float* g, float* lanes) {
  const cpu::Tile6x16 t = cpu::micro_6x16(kc, a, b);
  for (int row = 0; row < 6; ++row) {
    _mm256_storeu_ps(g + 16 * row, t.c[row][0]);
    _mm256_storeu_ps(g + 16 * row + 8, t.c[row][1]);
  }
  if (!lanes) return;
  for (int64_t i = 0; i < E; ++i) {
    const float* wi = w + i * kMicroTile;
    __m256 dot0 = _mm256_setzero_ps(), dot1 = dot0;
    for (int row = 0; row < 6; ++row, wi += 16) {
      dot0 = _mm256_fmadd_ps(t.c[row][0], _mm256_loadu_ps(wi), dot0);
      dot1 = _mm256_fmadd_ps(t.c[row][1], _mm256_loadu_ps(wi + 8), dot1);
    }
    _mm256_storeu_ps(lanes + 8 * i,
                     _mm256_add_ps(_mm256_loadu_ps(lanes + 8 * i), _mm256_add_ps(dot0, dot1)));
  }
}

// The expert gradients' tiles over sg segments' G tiles (g: tile j at 96·j):
//   dw[i][tile] (+)= Σ_j r[j,i] · G_j[tile]   for the E experts i (dw: tile i at 96·i)
// summed in registers in the order j = 0, 1, ..., each tile stored once: the per-segment
// read-modify-write of all E tiles had cost three times the FMAs it carries (the stores).
inline void fold_segments(int64_t E, int64_t sg, const float* r, const float* g, float* dw,
                          bool accumulate) {
  for (int64_t i = 0; i < E; ++i, dw += kMicroTile) {
    __m256 acc[12];
    for (int q = 0; q < 12; ++q)
      acc[q] = accumulate ? _mm256_loadu_ps(dw + 8 * q) : _mm256_setzero_ps();
    for (int64_t j = 0; j < sg; ++j) {
      const __m256 rj = _mm256_broadcast_ss(r + j * E + i);
      const float* gj = g + j * kMicroTile;
      for (int q = 0; q < 12; ++q)
        acc[q] = _mm256_fmadd_ps(rj, _mm256_loadu_ps(gj + 8 * q), acc[q]);
    }
    for (int q = 0; q < 12; ++q) _mm256_storeu_ps(dw + 8 * q, acc[q]);
  }
}
#endif

// Merges a group of sg <= 6 segments, with the AVX2 kernel where it applies.
template <typename Real>
void merge(int64_t E, int64_t sg, const Real* r, const Real* w, int64_t stride, int64_t n,
           Real* out) {
#ifdef LORY_LORY_KERNELS_AVX2
  if constexpr (std::is_same_v<Real, float>)
    if (n % 16 == 0) switch (sg) {
        case 6: return merge_avx2<6>(E, r, w, stride, n, out);
        case 5: return merge_avx2<5>(E, r, w, stride, n, out);
        case 4: return merge_avx2<4>(E, r, w, stride, n, out);
        case 3: return merge_avx2<3>(E, r, w, stride, n, out);
        case 2: return merge_avx2<2>(E, r, w, stride, n, out);
        case 1: return merge_avx2<1>(E, r, w, stride, n, out);
      }
#endif
  merge_portable(E, sg, r, w, stride, n, out);
}

}  // namespace lory::ops::lory_kernels
