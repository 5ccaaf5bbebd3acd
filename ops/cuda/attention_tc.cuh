// Shared pieces of the bf16 tensor-core attention kernels (attention_tc.cu: forward;
// attention_tc_backward.cu: dQ and dK/dV): geometry, shared-memory layout, tile loads, the WMMA
// building blocks and launch helpers. Included by those two .cu files only.
#pragma once
#include <mma.h>

#include <cmath>

#include "core/cuda/device.cuh"
#include "ops/cuda/attention_tc.h"

namespace lory::ops::cuda::tc {
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

// Raises a kernel's dynamic shared memory limit to `bytes` (above the 48 KiB default).
template <typename Kernel>
bool allow_shared_memory(Kernel kernel, size_t bytes) {
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(bytes)));
  return true;
}

inline unsigned blocks(int64_t n) { return static_cast<unsigned>((n + kRows - 1) / kRows); }

inline float scale_for(int64_t Dh) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(Dh)));
}

}  // namespace lory::ops::cuda::tc
