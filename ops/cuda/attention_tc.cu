// causal_attention on bf16 tensor cores (WMMA 16×16×16, fp32 accumulators), flash-style: a
// forward kernel with an online softmax over key tiles, a dQ kernel over query blocks and a
// dK/dV kernel over key blocks, both recomputing P from the saved log-sum-exp. No atomics.
#include <mma.h>

#include <cmath>

#include "core/cuda/device.cuh"
#include "ops/cuda/attention_tc.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;
using namespace nvcuda;
using bf16 = __nv_bfloat16;

// Geometry shared by the three kernels. A block of 4 warps owns kRows = 64 rows (queries in the
// forward and dQ kernels, keys in the dK/dV kernel), 16 per warp: one WMMA tile high. It walks
// tiles of kCols = 64 columns (keys, or queries for dK/dV). Per tile each warp computes its
// 16 × 64 score block by MMA into a per-warp fp32 scratch in shared memory (the accumulator
// layout of WMMA is opaque, so the softmax reads scores from there), turns it into bf16 P or dS
// in a per-warp buffer, and multiplies that by the tile's 64 × Dh rows into its accumulators.
// In the softmax step a lane pair owns one row: lane = 2r + h, r the row, h which half of the
// column pairs {4u + 2h, 4u + 2h + 1} (u < 16), so row reductions are one shuffle.
//
// Shared memory (bytes), Dh = 64 / 128: a 64-row bf16 tile has row stride Dh + 8 (the 16-byte
// pad puts the 8 rows an ldmatrix reads in 8 different bank groups) = 9216 / 17408; the fp32
// scratch 4 warps × 16 × 68 = 17408; the bf16 P buffer 4 × 16 × 72 × 2 = 9216.
//   forward: Q, K, V tiles + scratch + P = 54272 / 78848 (53 / 77 KiB: 4 / 2 blocks per SM)
//   dQ, dK/dV: Q, dO, K, V tiles + scratch + P + 2 × 64 floats = 64000 / 96768 (62.5 / 94.5 KiB:
//   3 / 2 blocks per SM on an H100/H200 (228 KiB per SM)). Above the 48 KiB static limit, so
//   dynamic shared memory with cudaFuncAttributeMaxDynamicSharedMemorySize; under the 99 KiB
//   opt-in limit of every sm_80+ part. Every region is a multiple of 128 bytes, so each starts
//   128-byte aligned (WMMA needs 32).
constexpr int kWarps = 4;
constexpr int kThreadsPerBlock = kWarps * 32;
constexpr int kRows = 16 * kWarps;
constexpr int kCols = 64;
constexpr int kSS = kCols + 4;  // fp32 scratch row stride (WMMA: a multiple of 4 floats)
constexpr int kSP = kCols + 8;  // bf16 P row stride (WMMA: a multiple of 8 halves)
constexpr unsigned kFull = 0xffffffffu;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
// The forward keeps a row's reference max m until a tile's max exceeds it by more than this
// (in log2 units): P = 2^(t - m) <= 2^8 stays well inside fp32 and bf16, and the accumulators
// are rescaled (a trip through shared memory) only when m moves, not on every tile.
constexpr float kLazyRescale = 8.0f;

template <int D>
struct Layout {
  static constexpr int kSD = D + 8;                      // bf16 tile row stride
  static constexpr int kTile = kRows * kSD;              // elements of a 64-row tile
  static constexpr int kScratch = kWarps * 16 * kSS;     // floats
  static constexpr int kP = kWarps * 16 * kSP;           // bf16 elements
  static constexpr size_t kForwardBytes = 3 * kTile * 2 + kScratch * 4 + kP * 2;
  static constexpr size_t kBackwardBytes = 4 * kTile * 2 + kScratch * 4 + kP * 2 + 2 * kCols * 4;
  static_assert(kCols == kRows, "the tile loader assumes 64-row tiles everywhere");
};

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major>;
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major>;
using FragBt = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

// dst[r][d] (row stride D + 8) = src[(row0 + r) * D + d] for r < 64, d < D; rows at or past
// nrows are zero, so they add exact zeros to every product. 16-byte vectors, coalesced.
template <int D>
__device__ void load_tile(bf16* dst, const bf16* src, int64_t row0, int64_t nrows) {
  constexpr int kVec = D / 8;
  for (int idx = threadIdx.x; idx < kRows * kVec; idx += kThreadsPerBlock) {
    const int r = idx / kVec, c = (idx % kVec) * 8;
    const int64_t row = row0 + r;
    uint4 val = make_uint4(0, 0, 0, 0);
    if (row < nrows) val = __ldg(reinterpret_cast<const uint4*>(src + row * D + c));
    *reinterpret_cast<uint4*>(dst + r * (D + 8) + c) = val;
  }
}

// out (16 × 64 fp32, stride kSS) = A Bᵀ, A = 16 rows and B = 64 rows of a bf16 tile (stride
// D + 8, D columns). Bᵀ as a column-major matrix_b: element (k, n) = b[n * (D + 8) + k].
template <int D>
__device__ void mma_abt(float* out, const bf16* a, const bf16* b) {
  FragC c[kCols / 16];
#pragma unroll
  for (int n = 0; n < kCols / 16; ++n) wmma::fill_fragment(c[n], 0.0f);
#pragma unroll 1
  for (int k0 = 0; k0 < D; k0 += 16) {
    FragA fa;
    wmma::load_matrix_sync(fa, a + k0, D + 8);
#pragma unroll
    for (int n = 0; n < kCols / 16; ++n) {
      FragBt fb;
      wmma::load_matrix_sync(fb, b + n * 16 * (D + 8) + k0, D + 8);
      wmma::mma_sync(c[n], fa, fb, c[n]);
    }
  }
#pragma unroll
  for (int n = 0; n < kCols / 16; ++n)
    wmma::store_matrix_sync(out + 16 * n, c[n], kSS, wmma::mem_row_major);
}

// acc (16 × D in D/16 fragments) += P B, P 16 × 64 bf16 (stride kSP), B 64 rows of a bf16 tile.
template <int D>
__device__ void mma_pb(FragC (&acc)[D / 16], const bf16* p, const bf16* b) {
#pragma unroll 1
  for (int k0 = 0; k0 < kCols; k0 += 16) {
    FragA fa;
    wmma::load_matrix_sync(fa, p + k0, kSP);
#pragma unroll
    for (int f = 0; f < D / 16; ++f) {
      FragB fb;
      wmma::load_matrix_sync(fb, b + k0 * (D + 8) + 16 * f, D + 8);
      wmma::mma_sync(acc[f], fa, fb, acc[f]);
    }
  }
}

// Multiplies row r of the accumulators by `factor` (lane 2r + h holds row r's factor): each
// fragment goes through the warp's scratch, where the lane pair scales its row.
template <int D>
__device__ void scale_rows(FragC (&acc)[D / 16], float* scr, float factor) {
  const int lane = threadIdx.x & 31, r = lane >> 1, h = lane & 1;
#pragma unroll
  for (int f = 0; f < D / 16; ++f) {
    wmma::store_matrix_sync(scr, acc[f], kSS, wmma::mem_row_major);
    __syncwarp();
#pragma unroll
    for (int e = 0; e < 8; ++e) scr[r * kSS + 8 * h + e] *= factor;
    __syncwarp();
    wmma::load_matrix_sync(acc[f], scr, kSS, wmma::mem_row_major);
    __syncwarp();  // every lane has loaded before the next fragment overwrites the scratch
  }
}

// dst[row * D + d] = bf16(acc[r][d] * factor) for the lane pair's row r (global row `row`),
// if write; 16-byte stores, 8 columns per lane per fragment.
template <int D>
__device__ void store_rows(const FragC (&acc)[D / 16], float* scr, float factor, bf16* dst,
                           int64_t row, bool write) {
  const int lane = threadIdx.x & 31, r = lane >> 1, h = lane & 1;
#pragma unroll
  for (int f = 0; f < D / 16; ++f) {
    wmma::store_matrix_sync(scr, acc[f], kSS, wmma::mem_row_major);
    __syncwarp();
    if (write) {
      const float* x = scr + r * kSS + 8 * h;
      unsigned words[4];
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const __nv_bfloat162 pair = __floats2bfloat162_rn(x[2 * e] * factor, x[2 * e + 1] * factor);
        memcpy(&words[e], &pair, sizeof pair);
      }
      *reinterpret_cast<uint4*>(dst + row * D + 16 * f + 8 * h) =
          make_uint4(words[0], words[1], words[2], words[3]);
    }
    __syncwarp();
  }
}

// Forward. Grid (BH, ceil(Lq / 64)), longest rows first; block rows [i0, i0 + 64), warp w rows
// i0 + 16w + [0, 16). Key tiles j0 = 0, 64, ... while j0 < i1 + offset (the block's last real
// row sees keys < i1 + offset); a warp skips a tile none of its rows sees. Scores in log2 units,
// t = q·k · log2(e)/sqrt(Dh), so exp(s) = 2^t. Per row: m the reference max, l = Σ 2^(t - m),
// acc = Σ 2^(t - m) v. When a tile's max exceeds m + kLazyRescale, m moves to it and l, acc
// are multiplied by 2^(m_old - m_new) (0 on the first tile: m_old = -inf). At the end
// o = acc / l and lse = m ln 2 + ln l. Every real row sees key 0 in tile 0, so m is finite
// from then on; rows past Lq see nothing (lim = -1) and are never written.
template <int D>
__global__ void __launch_bounds__(kThreadsPerBlock)
    tc_forward_kernel(const bf16* q, const bf16* k, const bf16* v, bf16* o, float* lse,
                      int64_t Lq, int64_t Lk, float scale2) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using L = Layout<D>;
  extern __shared__ __align__(128) unsigned char smem[];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, r = lane >> 1, h = lane & 1;
  bf16* Qs = reinterpret_cast<bf16*>(smem);
  bf16* Ks = Qs + L::kTile;
  bf16* Vs = Ks + L::kTile;
  float* scr = reinterpret_cast<float*>(Vs + L::kTile) + warp * 16 * kSS;
  bf16* pb = reinterpret_cast<bf16*>(reinterpret_cast<float*>(Vs + L::kTile) + L::kScratch) +
             warp * 16 * kSP;

  const int64_t bh = blockIdx.x, offset = Lk - Lq;
  const int64_t i0 = (int64_t(gridDim.y) - 1 - blockIdx.y) * kRows;
  const int64_t i1 = min(Lq, i0 + kRows);
  const int64_t wi0 = i0 + 16 * warp, wlast = min(wi0 + 15, Lq - 1);  // the warp's real rows
  const bool active = wi0 < Lq;
  const int64_t i = wi0 + r;
  const int64_t lim = i < Lq ? i + offset : -1;  // the row's last visible key (< Lk)
  q += bh * Lq * D;
  k += bh * Lk * D;
  v += bh * Lk * D;
  o += bh * Lq * D;
  lse += bh * Lq;

  load_tile<D>(Qs, q, i0, Lq);
  FragC acc[D / 16];
#pragma unroll
  for (int f = 0; f < D / 16; ++f) wmma::fill_fragment(acc[f], 0.0f);
  float m = -INFINITY, l = 0;
  bool started = false;  // acc may be nonzero (warp-uniform)
  for (int64_t j0 = 0; j0 < i1 + offset; j0 += kCols) {
    __syncthreads();  // Q stored (first tile); every warp done with the previous K, V tile
    load_tile<D>(Ks, k, j0, Lk);
    load_tile<D>(Vs, v, j0, Lk);
    __syncthreads();
    if (!active || j0 > wlast + offset) continue;  // warp-uniform
    mma_abt<D>(scr, Qs + 16 * warp * L::kSD, Ks);
    __syncwarp();
    float t[kCols / 2];
    float tmax = -INFINITY;
#pragma unroll
    for (int u = 0; u < kCols / 4; ++u) {
      const int c = 4 * u + 2 * h;
      const float2 x = *reinterpret_cast<const float2*>(scr + r * kSS + c);
      t[2 * u] = j0 + c <= lim ? x.x * scale2 : -INFINITY;
      t[2 * u + 1] = j0 + c + 1 <= lim ? x.y * scale2 : -INFINITY;
      tmax = fmaxf(tmax, fmaxf(t[2 * u], t[2 * u + 1]));
    }
    tmax = fmaxf(tmax, __shfl_xor_sync(kFull, tmax, 1));
    const bool grow = tmax > m + kLazyRescale;  // with m = -inf: any visible key
    float corr = 1.0f;
    if (grow) {
      corr = exp2f(m - tmax);
      m = tmax;
    }
    const float mref = m == -INFINITY ? 0.0f : m;  // a row with nothing visible yet: p = 0
    float sum = 0;
#pragma unroll
    for (int u = 0; u < kCols / 4; ++u) {
      const float p0 = exp2f(t[2 * u] - mref), p1 = exp2f(t[2 * u + 1] - mref);
      sum += p0 + p1;
      *reinterpret_cast<__nv_bfloat162*>(pb + r * kSP + 4 * u + 2 * h) =
          __floats2bfloat162_rn(p0, p1);
    }
    sum += __shfl_xor_sync(kFull, sum, 1);
    l = l * corr + sum;
    const bool any_grow = __any_sync(kFull, grow);
    __syncwarp();  // scores read and P written by every lane
    if (started && any_grow) scale_rows<D>(acc, scr, corr);
    mma_pb<D>(acc, pb, Vs);
    started = true;
  }
  if (active) {
    store_rows<D>(acc, scr, 1.0f / l, o, i, i < Lq);
    if (h == 0 && i < Lq) lse[i] = m * kLn2 + logf(l);
  }
#endif
}

// Backward, with P_ij = 2^(t_ij - lse_i log2 e) for visible pairs (0 otherwise), dP_ij =
// dO_i·v_j, delta_i = Σ_d dO_id O_id and dS_ij = P_ij (dP_ij - delta_i) / sqrt(Dh) (the score
// scale folded in before the bf16 rounding):
//   dQ_i = Σ_j dS_ij k_j                      (dq kernel: query blocks, key tiles as forward)
//   dK_j = Σ_i dS_ij q_i,  dV_j = Σ_i P_ij dO_i   (dkdv kernel: key blocks, query tiles)
template <int D>
__global__ void __launch_bounds__(kThreadsPerBlock)
    tc_dq_kernel(const bf16* q, const bf16* k, const bf16* v, const float* lse,
                 const float* delta, const bf16* dout, bf16* dq, int64_t Lq, int64_t Lk,
                 float scale, float scale2) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using L = Layout<D>;
  extern __shared__ __align__(128) unsigned char smem[];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, r = lane >> 1, h = lane & 1;
  bf16* Qs = reinterpret_cast<bf16*>(smem);
  bf16* dOs = Qs + L::kTile;
  bf16* Ks = dOs + L::kTile;
  bf16* Vs = Ks + L::kTile;
  float* scr = reinterpret_cast<float*>(Vs + L::kTile) + warp * 16 * kSS;
  bf16* pb = reinterpret_cast<bf16*>(reinterpret_cast<float*>(Vs + L::kTile) + L::kScratch) +
             warp * 16 * kSP;

  const int64_t bh = blockIdx.x, offset = Lk - Lq;
  const int64_t i0 = (int64_t(gridDim.y) - 1 - blockIdx.y) * kRows;
  const int64_t i1 = min(Lq, i0 + kRows);
  const int64_t wi0 = i0 + 16 * warp, wlast = min(wi0 + 15, Lq - 1);
  const bool active = wi0 < Lq;
  const int64_t i = wi0 + r;
  const int64_t lim = i < Lq ? i + offset : -1;
  q += bh * Lq * D;
  dout += bh * Lq * D;
  dq += bh * Lq * D;
  k += bh * Lk * D;
  v += bh * Lk * D;
  const float lse2 = i < Lq ? lse[bh * Lq + i] * kLog2e : 0.0f;
  const float delta_i = i < Lq ? delta[bh * Lq + i] : 0.0f;

  load_tile<D>(Qs, q, i0, Lq);
  load_tile<D>(dOs, dout, i0, Lq);
  FragC acc[D / 16];
#pragma unroll
  for (int f = 0; f < D / 16; ++f) wmma::fill_fragment(acc[f], 0.0f);
  for (int64_t j0 = 0; j0 < i1 + offset; j0 += kCols) {
    __syncthreads();
    load_tile<D>(Ks, k, j0, Lk);
    load_tile<D>(Vs, v, j0, Lk);
    __syncthreads();
    if (!active || j0 > wlast + offset) continue;  // warp-uniform
    mma_abt<D>(scr, Qs + 16 * warp * L::kSD, Ks);
    __syncwarp();
    float p[kCols / 2];
#pragma unroll
    for (int u = 0; u < kCols / 4; ++u) {
      const int c = 4 * u + 2 * h;
      const float2 x = *reinterpret_cast<const float2*>(scr + r * kSS + c);
      p[2 * u] = j0 + c <= lim ? exp2f(x.x * scale2 - lse2) : 0.0f;
      p[2 * u + 1] = j0 + c + 1 <= lim ? exp2f(x.y * scale2 - lse2) : 0.0f;
    }
    __syncwarp();  // scores read before dP overwrites the scratch
    mma_abt<D>(scr, dOs + 16 * warp * L::kSD, Vs);
    __syncwarp();
#pragma unroll
    for (int u = 0; u < kCols / 4; ++u) {
      const int c = 4 * u + 2 * h;
      const float2 x = *reinterpret_cast<const float2*>(scr + r * kSS + c);
      *reinterpret_cast<__nv_bfloat162*>(pb + r * kSP + c) =
          __floats2bfloat162_rn(p[2 * u] * (x.x - delta_i) * scale,
                                p[2 * u + 1] * (x.y - delta_i) * scale);
    }
    __syncwarp();
    mma_pb<D>(acc, pb, Ks);
  }
  if (active) store_rows<D>(acc, scr, 1.0f, dq, i, i < Lq);
#endif
}

// Grid (BH, ceil(Lk / 64)); block keys [j0, j0 + 64), warp w keys j0 + 16w + [0, 16). Key j is
// seen by queries i >= j - offset (and i < Lq), so query tiles run from q0 = max(0, j0 -
// offset) to Lq; a warp skips a tile whose last query sees none of its keys. The scores here
// are transposed (rows keys, columns queries): Sᵀ = K Qᵀ, dPᵀ = V dOᵀ.
template <int D>
__global__ void __launch_bounds__(kThreadsPerBlock)
    tc_dkdv_kernel(const bf16* q, const bf16* k, const bf16* v, const float* lse,
                   const float* delta, const bf16* dout, bf16* dk, bf16* dv, int64_t Lq,
                   int64_t Lk, float scale, float scale2) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using L = Layout<D>;
  extern __shared__ __align__(128) unsigned char smem[];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, r = lane >> 1, h = lane & 1;
  bf16* Ks = reinterpret_cast<bf16*>(smem);
  bf16* Vs = Ks + L::kTile;
  bf16* Qs = Vs + L::kTile;
  bf16* dOs = Qs + L::kTile;
  float* scr_all = reinterpret_cast<float*>(dOs + L::kTile);
  float* scr = scr_all + warp * 16 * kSS;
  bf16* pb = reinterpret_cast<bf16*>(scr_all + L::kScratch) + warp * 16 * kSP;
  float* lse2_s = reinterpret_cast<float*>(reinterpret_cast<bf16*>(scr_all + L::kScratch) + L::kP);
  float* delta_s = lse2_s + kCols;

  const int64_t bh = blockIdx.x, offset = Lk - Lq;
  const int64_t j0 = int64_t(blockIdx.y) * kRows;
  const int64_t wj0 = j0 + 16 * warp;
  const bool active = wj0 < Lk;
  const int64_t j = wj0 + r;
  const int64_t first = j < Lk ? j - offset : Lq;  // the first query that sees key j
  q += bh * Lq * D;
  dout += bh * Lq * D;
  k += bh * Lk * D;
  v += bh * Lk * D;
  dk += bh * Lk * D;
  dv += bh * Lk * D;
  lse += bh * Lq;
  delta += bh * Lq;

  load_tile<D>(Ks, k, j0, Lk);
  load_tile<D>(Vs, v, j0, Lk);
  FragC dk_acc[D / 16], dv_acc[D / 16];
#pragma unroll
  for (int f = 0; f < D / 16; ++f) {
    wmma::fill_fragment(dk_acc[f], 0.0f);
    wmma::fill_fragment(dv_acc[f], 0.0f);
  }
  for (int64_t q0 = max(int64_t(0), j0 - offset); q0 < Lq; q0 += kCols) {
    __syncthreads();
    load_tile<D>(Qs, q, q0, Lq);
    load_tile<D>(dOs, dout, q0, Lq);
    for (int c = threadIdx.x; c < kCols; c += kThreadsPerBlock) {
      lse2_s[c] = q0 + c < Lq ? lse[q0 + c] * kLog2e : 0.0f;
      delta_s[c] = q0 + c < Lq ? delta[q0 + c] : 0.0f;
    }
    __syncthreads();
    if (!active || q0 + kCols - 1 + offset < wj0) continue;  // warp-uniform
    mma_abt<D>(scr, Ks + 16 * warp * L::kSD, Qs);
    __syncwarp();
    float p[kCols / 2];
#pragma unroll
    for (int u = 0; u < kCols / 4; ++u) {
      const int c = 4 * u + 2 * h;
      const int64_t ia = q0 + c;
      const float2 x = *reinterpret_cast<const float2*>(scr + r * kSS + c);
      p[2 * u] = ia >= first && ia < Lq ? exp2f(x.x * scale2 - lse2_s[c]) : 0.0f;
      p[2 * u + 1] = ia + 1 >= first && ia + 1 < Lq ? exp2f(x.y * scale2 - lse2_s[c + 1]) : 0.0f;
      *reinterpret_cast<__nv_bfloat162*>(pb + r * kSP + c) =
          __floats2bfloat162_rn(p[2 * u], p[2 * u + 1]);
    }
    __syncwarp();  // scores read, Pᵀ written
    mma_pb<D>(dv_acc, pb, dOs);
    mma_abt<D>(scr, Vs + 16 * warp * L::kSD, dOs);
    __syncwarp();  // dPᵀ stored; every lane has loaded Pᵀ before dSᵀ overwrites it
#pragma unroll
    for (int u = 0; u < kCols / 4; ++u) {
      const int c = 4 * u + 2 * h;
      const float2 x = *reinterpret_cast<const float2*>(scr + r * kSS + c);
      *reinterpret_cast<__nv_bfloat162*>(pb + r * kSP + c) =
          __floats2bfloat162_rn(p[2 * u] * (x.x - delta_s[c]) * scale,
                                p[2 * u + 1] * (x.y - delta_s[c + 1]) * scale);
    }
    __syncwarp();
    mma_pb<D>(dk_acc, pb, Qs);
  }
  if (active) {
    store_rows<D>(dk_acc, scr, 1.0f, dk, j, j < Lk);
    store_rows<D>(dv_acc, scr, 1.0f, dv, j, j < Lk);
  }
#endif
}

// Raises a kernel's dynamic shared memory limit to `bytes` (above the 48 KiB default).
template <typename Kernel>
bool allow_shared_memory(Kernel kernel, size_t bytes) {
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(bytes)));
  return true;
}

unsigned blocks(int64_t n) { return static_cast<unsigned>((n + kRows - 1) / kRows); }

float scale_for(int64_t Dh) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(Dh)));
}

bool device_has_bf16_mma() {
  static const bool yes = [] {
    int dev = 0, major = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    return major >= 8;
  }();
  return yes;
}

template <int D>
void forward(const void* q, const void* k, const void* v, void* out, float* lse, int64_t BH,
             int64_t Lq, int64_t Lk) {
  constexpr size_t bytes = Layout<D>::kForwardBytes;
  static const bool ready = allow_shared_memory(tc_forward_kernel<D>, bytes);  // once per D
  (void)ready;
  const float scale = scale_for(D);
  tc_forward_kernel<D><<<dim3(static_cast<unsigned>(BH), blocks(Lq)), kThreadsPerBlock, bytes>>>(
      static_cast<const bf16*>(q), static_cast<const bf16*>(k), static_cast<const bf16*>(v),
      static_cast<bf16*>(out), lse, Lq, Lk, scale * kLog2e);
  CUDA_CHECK_LAUNCH();
}

template <int D>
void backward(const void* q, const void* k, const void* v, const float* lse, const float* delta,
              const void* dout, void* dq, void* dk, void* dv, int64_t BH, int64_t Lq,
              int64_t Lk) {
  constexpr size_t bytes = Layout<D>::kBackwardBytes;
  static const bool ready = allow_shared_memory(tc_dq_kernel<D>, bytes) &&
                            allow_shared_memory(tc_dkdv_kernel<D>, bytes);  // once per D
  (void)ready;
  const float scale = scale_for(D);
  auto qs = static_cast<const bf16*>(q), ks = static_cast<const bf16*>(k),
       vs = static_cast<const bf16*>(v), dos = static_cast<const bf16*>(dout);
  const auto bh = static_cast<unsigned>(BH);
  if (Lq > 0) {
    tc_dq_kernel<D><<<dim3(bh, blocks(Lq)), kThreadsPerBlock, bytes>>>(
        qs, ks, vs, lse, delta, dos, static_cast<bf16*>(dq), Lq, Lk, scale, scale * kLog2e);
    CUDA_CHECK_LAUNCH();
  }
  tc_dkdv_kernel<D><<<dim3(bh, blocks(Lk)), kThreadsPerBlock, bytes>>>(
      qs, ks, vs, lse, delta, dos, static_cast<bf16*>(dk), static_cast<bf16*>(dv), Lq, Lk, scale,
      scale * kLog2e);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

bool tc_attention_supported(DType dt, int64_t Dh, std::initializer_list<const void*> pointers) {
  if (dt != DType::bf16 || (Dh != 64 && Dh != 128)) return false;
  for (const void* p : pointers)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return device_has_bf16_mma();
}

void tc_attention_forward(const void* q, const void* k, const void* v, void* out, float* lse,
                          int64_t BH, int64_t Lq, int64_t Lk, int64_t Dh) {
  if (Dh == 64)
    forward<64>(q, k, v, out, lse, BH, Lq, Lk);
  else
    forward<128>(q, k, v, out, lse, BH, Lq, Lk);
}

void tc_attention_backward(const void* q, const void* k, const void* v, const float* lse,
                           const float* delta, const void* dout, void* dq, void* dk, void* dv,
                           int64_t BH, int64_t Lq, int64_t Lk, int64_t Dh) {
  if (Dh == 64)
    backward<64>(q, k, v, lse, delta, dout, dq, dk, dv, BH, Lq, Lk);
  else
    backward<128>(q, k, v, lse, delta, dout, dq, dk, dv, BH, Lq, Lk);
}

}  // namespace lory::ops::cuda
