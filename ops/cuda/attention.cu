// causal_attention CUDA kernels (SIMT, fp32 in shared memory, flash-style): forward with an online
// softmax over key tiles; backward as a dQ kernel over query blocks and a dK/dV kernel over key
// blocks, each recomputing probabilities from the saved log-sum-exp. No L×L matrix, no atomics.
// The launchers route bf16 with Dh 64/128 to the tensor-core kernels (attention_tc*.cu).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "core/cuda/device.cuh"
#include "ops/cuda/attention.h"
#include "ops/cuda/attention_tc.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

// Layout shared by the three kernels: a block of kWarps warps; in each warp one lane per key
// (forward, dQ) or per query (dK/dV) of a kTile-wide tile scores that pair, and every lane owns
// DMAX/32 columns (d = lane + 32c) of its warp's output rows. A tile's scores reach the column
// owners by warp shuffles, so a warp never needs shared memory of its own.
constexpr int kWarps = 4;
constexpr int kThreadsPerBlock = kWarps * 32;
constexpr int kTile = 32;           // keys (forward, dQ) or queries (dK/dV) per tile: one per lane
constexpr int kFwdRowsPerWarp = 4;  // forward: query rows per warp (16 per block)
constexpr int kBwdRowsPerWarp = 2;  // dQ: query rows, dK/dV: key rows per warp (8 per block)
constexpr unsigned kFull = 0xffffffffu;

// Shared memory at DMAX = 128, fp32: forward 16×128 + 32×129 + 32×128 floats = 40.5 KiB; dQ and
// dK/dV 2 × 8×128 + 2 × 32×129 floats = 41 KiB; all under the 48 KiB static limit. Tiles read
// by one lane per row (a lane walks its own row over d) have DMAX + 1 columns, so the 32 lanes
// hit 32 different banks; tiles read by column (d = lane + 32c) or broadcast have DMAX.

// dst[r * stride + d] = src[(row0 + r) * Dh + d] for r < rows, d < DMAX; zero where row0 + r >=
// nrows or d >= Dh, so padding contributes exact zeros (never stale shared memory) to products.
template <int DMAX, typename T>
__device__ void load_rows(float* dst, int stride, const T* src, int64_t row0, int rows,
                          int64_t nrows, int Dh) {
  for (int idx = threadIdx.x; idx < rows * DMAX; idx += blockDim.x) {
    int r = idx / DMAX, d = idx % DMAX;
    int64_t row = row0 + r;
    dst[r * stride + d] = (row < nrows && d < Dh) ? to_acc(src[row * Dh + d]) : 0.0f;
  }
}

__device__ __forceinline__ float dot(const float* a, const float* b, int Dh) {
  float s = 0;
  for (int d = 0; d < Dh; ++d) s += a[d] * b[d];
  return s;
}

// Forward. Grid (BH, ceil(Lq / 16)); block 16 query rows [i0, i1) of slice bh, visiting key
// tiles [j0, j0 + 32) for j0 < i1 + offset (the block's last row sees keys < i1 + offset).
// Online softmax per row: with m the running max, l = Σ exp(s - m) and acc = Σ exp(s - m) v,
// a new tile with max m' = max(m, max_tile s) rescales l and acc by exp(m - m') before adding
// exp(s - m') terms; at the end o = acc / l and lse = m + log l. A row skips tiles that start
// past its last visible key, so each tile it visits has at least one finite score (key j0) and
// m is finite from the first tile on (exp(-inf - m') = 0 handles the masked lanes and the
// initial m = -inf).
template <typename T, int DMAX>
__global__ void __launch_bounds__(kThreadsPerBlock)
    forward_kernel(const T* q, const T* k, const T* v, T* o, float* lse, int64_t Lq, int64_t Lk,
                   int Dh, float scale) {
  constexpr int R = kFwdRowsPerWarp, Br = kWarps * R, C = DMAX / 32;
  __shared__ float Qs[Br][DMAX];
  __shared__ float Ks[kTile][DMAX + 1];
  __shared__ float Vs[kTile][DMAX];
  const int64_t bh = blockIdx.x, offset = Lk - Lq;
  const int64_t i0 = (int64_t(gridDim.y) - 1 - blockIdx.y) * Br;  // longest rows first
  const int64_t i1 = min(Lq, i0 + Br);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  q += bh * Lq * Dh;
  k += bh * Lk * Dh;
  v += bh * Lk * Dh;
  o += bh * Lq * Dh;
  lse += bh * Lq;

  load_rows<DMAX>(&Qs[0][0], DMAX, q, i0, Br, Lq, Dh);
  float m[R], l[R], acc[R][C];
#pragma unroll
  for (int rr = 0; rr < R; ++rr) {
    m[rr] = -INFINITY;
    l[rr] = 0;
#pragma unroll
    for (int c = 0; c < C; ++c) acc[rr][c] = 0;
  }
  for (int64_t j0 = 0; j0 < i1 + offset; j0 += kTile) {
    __syncthreads();  // Qs stored (first tile); the previous K, V tile fully read (later ones)
    load_rows<DMAX>(&Ks[0][0], DMAX + 1, k, j0, kTile, Lk, Dh);
    load_rows<DMAX>(&Vs[0][0], DMAX, v, j0, kTile, Lk, Dh);
    __syncthreads();
#pragma unroll
    for (int rr = 0; rr < R; ++rr) {
      const int a = warp * R + rr;
      const int64_t i = i0 + a;
      if (i >= Lq || j0 > i + offset) continue;  // uniform across the warp
      const int64_t j = j0 + lane;
      float s = -INFINITY;
      if (j <= i + offset) s = dot(Qs[a], Ks[lane], Dh) * scale;  // j <= i + offset < Lk
      const float m_new = max(m[rr], warp_max(s));
      const float p = expf(s - m_new);
      const float corr = expf(m[rr] - m_new);
      l[rr] = l[rr] * corr + warp_sum(p);
      m[rr] = m_new;
#pragma unroll
      for (int c = 0; c < C; ++c) acc[rr][c] *= corr;
      for (int jj = 0; jj < kTile; ++jj) {
        const float pj = __shfl_sync(kFull, p, jj);
#pragma unroll
        for (int c = 0; c < C; ++c) acc[rr][c] += pj * Vs[jj][lane + 32 * c];
      }
    }
  }
#pragma unroll
  for (int rr = 0; rr < R; ++rr) {
    const int64_t i = i0 + warp * R + rr;
    if (i >= Lq) continue;
    const float inv = 1.0f / l[rr];
#pragma unroll
    for (int c = 0; c < C; ++c) {
      const int d = lane + 32 * c;
      if (d < Dh) o[i * Dh + d] = from_acc<T>(acc[rr][c] * inv);
    }
    if (lane == 0) lse[i] = m[rr] + logf(l[rr]);
  }
}

// delta[r] = Σ_d dout[r][d] out[r][d] (= Σ_j P_rj dP_rj, see ops/attention.cpp); one warp per row.
template <typename T>
__global__ void row_dot_kernel(const T* dout, const T* out, float* delta, int64_t rows, int Dh) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * blockDim.x / 32;
  for (int64_t r = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32; r < rows; r += warps) {
    float s = 0;
    for (int d = lane; d < Dh; d += 32) s += to_acc(dout[r * Dh + d]) * to_acc(out[r * Dh + d]);
    s = warp_sum(s);
    if (lane == 0) delta[r] = s;
  }
}

// Backward, with s = 1/sqrt(Dh), P_ij = exp(s q_i·k_j - lse_i) for visible pairs (0 otherwise),
// dP_ij = dO_i·v_j and dS_ij = P_ij (dP_ij - delta_i):
//   dQ_i = s Σ_j dS_ij k_j          (this kernel: query blocks, like the forward)
//   dK_j = s Σ_i dS_ij q_i,  dV_j = Σ_i P_ij dO_i   (dkdv_kernel: key blocks)
// Grid (BH, ceil(Lq / 8)); block 8 query rows, key tiles as in the forward.
template <typename T, int DMAX>
__global__ void __launch_bounds__(kThreadsPerBlock)
    dq_kernel(const T* q, const T* k, const T* v, const float* lse, const float* delta,
              const T* dout, T* dq, int64_t Lq, int64_t Lk, int Dh, float scale) {
  constexpr int R = kBwdRowsPerWarp, Br = kWarps * R, C = DMAX / 32;
  __shared__ float Qs[Br][DMAX];
  __shared__ float dOs[Br][DMAX];
  __shared__ float Ks[kTile][DMAX + 1];
  __shared__ float Vs[kTile][DMAX + 1];
  const int64_t bh = blockIdx.x, offset = Lk - Lq;
  const int64_t i0 = (int64_t(gridDim.y) - 1 - blockIdx.y) * Br;
  const int64_t i1 = min(Lq, i0 + Br);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  q += bh * Lq * Dh;
  dout += bh * Lq * Dh;
  dq += bh * Lq * Dh;
  k += bh * Lk * Dh;
  v += bh * Lk * Dh;
  lse += bh * Lq;
  delta += bh * Lq;

  load_rows<DMAX>(&Qs[0][0], DMAX, q, i0, Br, Lq, Dh);
  load_rows<DMAX>(&dOs[0][0], DMAX, dout, i0, Br, Lq, Dh);
  float acc[R][C];
#pragma unroll
  for (int rr = 0; rr < R; ++rr)
#pragma unroll
    for (int c = 0; c < C; ++c) acc[rr][c] = 0;
  for (int64_t j0 = 0; j0 < i1 + offset; j0 += kTile) {
    __syncthreads();
    load_rows<DMAX>(&Ks[0][0], DMAX + 1, k, j0, kTile, Lk, Dh);
    load_rows<DMAX>(&Vs[0][0], DMAX + 1, v, j0, kTile, Lk, Dh);
    __syncthreads();
#pragma unroll
    for (int rr = 0; rr < R; ++rr) {
      const int a = warp * R + rr;
      const int64_t i = i0 + a;
      if (i >= Lq || j0 > i + offset) continue;  // uniform across the warp
      const int64_t j = j0 + lane;
      float ds = 0;
      if (j <= i + offset) {
        const float p = expf(dot(Qs[a], Ks[lane], Dh) * scale - lse[i]);
        ds = p * (dot(dOs[a], Vs[lane], Dh) - delta[i]);
      }
      for (int jj = 0; jj < kTile; ++jj) {
        const float dsj = __shfl_sync(kFull, ds, jj);
#pragma unroll
        for (int c = 0; c < C; ++c) acc[rr][c] += dsj * Ks[jj][lane + 32 * c];
      }
    }
  }
#pragma unroll
  for (int rr = 0; rr < R; ++rr) {
    const int64_t i = i0 + warp * R + rr;
    if (i >= Lq) continue;
#pragma unroll
    for (int c = 0; c < C; ++c) {
      const int d = lane + 32 * c;
      if (d < Dh) dq[i * Dh + d] = from_acc<T>(acc[rr][c] * scale);
    }
  }
}

// Grid (BH, ceil(Lk / 8)); block 8 key rows [j0, j0 + 8). Key j is seen by queries i >= j -
// offset, so the block visits query tiles [q0, q0 + 32) from q0 = max(0, j0 - offset) to Lq.
// Each key row's sums run over the query tiles in order and over the tile's lanes in order.
template <typename T, int DMAX>
__global__ void __launch_bounds__(kThreadsPerBlock)
    dkdv_kernel(const T* q, const T* k, const T* v, const float* lse, const float* delta,
                const T* dout, T* dk, T* dv, int64_t Lq, int64_t Lk, int Dh, float scale) {
  constexpr int R = kBwdRowsPerWarp, Bc = kWarps * R, C = DMAX / 32;
  __shared__ float Ks[Bc][DMAX];
  __shared__ float Vs[Bc][DMAX];
  __shared__ float Qs[kTile][DMAX + 1];
  __shared__ float dOs[kTile][DMAX + 1];
  __shared__ float lse_s[kTile], delta_s[kTile];
  const int64_t bh = blockIdx.x, offset = Lk - Lq;
  const int64_t j0 = int64_t(blockIdx.y) * Bc;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  q += bh * Lq * Dh;
  dout += bh * Lq * Dh;
  k += bh * Lk * Dh;
  v += bh * Lk * Dh;
  dk += bh * Lk * Dh;
  dv += bh * Lk * Dh;
  lse += bh * Lq;
  delta += bh * Lq;

  load_rows<DMAX>(&Ks[0][0], DMAX, k, j0, Bc, Lk, Dh);
  load_rows<DMAX>(&Vs[0][0], DMAX, v, j0, Bc, Lk, Dh);
  float dk_acc[R][C], dv_acc[R][C];
#pragma unroll
  for (int rr = 0; rr < R; ++rr)
#pragma unroll
    for (int c = 0; c < C; ++c) dk_acc[rr][c] = dv_acc[rr][c] = 0;
  for (int64_t q0 = max(int64_t(0), j0 - offset); q0 < Lq; q0 += kTile) {
    __syncthreads();
    load_rows<DMAX>(&Qs[0][0], DMAX + 1, q, q0, kTile, Lq, Dh);
    load_rows<DMAX>(&dOs[0][0], DMAX + 1, dout, q0, kTile, Lq, Dh);
    for (int t = threadIdx.x; t < kTile; t += blockDim.x) {
      lse_s[t] = q0 + t < Lq ? lse[q0 + t] : 0.0f;
      delta_s[t] = q0 + t < Lq ? delta[q0 + t] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int rr = 0; rr < R; ++rr) {
      const int b = warp * R + rr;
      const int64_t j = j0 + b;
      if (j >= Lk) continue;  // uniform across the warp
      const int64_t i = q0 + lane;
      float p = 0, ds = 0;
      if (i < Lq && j <= i + offset) {
        p = expf(dot(Qs[lane], Ks[b], Dh) * scale - lse_s[lane]);
        ds = p * (dot(dOs[lane], Vs[b], Dh) - delta_s[lane]);
      }
      for (int ii = 0; ii < kTile; ++ii) {
        const float pi = __shfl_sync(kFull, p, ii);
        const float dsi = __shfl_sync(kFull, ds, ii);
#pragma unroll
        for (int c = 0; c < C; ++c) {
          dv_acc[rr][c] += pi * dOs[ii][lane + 32 * c];
          dk_acc[rr][c] += dsi * Qs[ii][lane + 32 * c];
        }
      }
    }
  }
#pragma unroll
  for (int rr = 0; rr < R; ++rr) {
    const int64_t j = j0 + warp * R + rr;
    if (j >= Lk) continue;
#pragma unroll
    for (int c = 0; c < C; ++c) {
      const int d = lane + 32 * c;
      if (d < Dh) {
        dk[j * Dh + d] = from_acc<T>(dk_acc[rr][c] * scale);
        dv[j * Dh + d] = from_acc<T>(dv_acc[rr][c]);
      }
    }
  }
}

// Runs f(T{}, DMAX) for f32 or bf16 and the smallest DMAX in {32, 64, 128} with Dh <= DMAX.
// (f64 would double the fp32 tiles past the static shared-memory limit: not supported here.)
template <typename F>
void dispatch(DType dt, int64_t Dh, const char* op, F&& f) {
  LORY_CHECK(Dh >= 1 && Dh <= kMaxHeadDim, op, ": head dim Dh = ", Dh,
             " is not supported by the CUDA kernel; expected 1 <= Dh <= ", kMaxHeadDim);
  auto by_dim = [&](auto zero) {
    if (Dh <= 32)
      f(zero, std::integral_constant<int, 32>{});
    else if (Dh <= 64)
      f(zero, std::integral_constant<int, 64>{});
    else
      f(zero, std::integral_constant<int, 128>{});
  };
  switch (dt) {
    case DType::f32:
      by_dim(float{});
      break;
    case DType::bf16:
      by_dim(__nv_bfloat16{});
      break;
    default:
      LORY_FAIL(op, ": dtype ", dtype_name(dt),
                " is not supported by the CUDA kernel; expected f32 or bf16");
  }
}

float scale_for(int64_t Dh) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(Dh)));
}

unsigned blocks(int64_t n, int per_block) {
  return static_cast<unsigned>((n + per_block - 1) / per_block);
}

// Whether to run the tensor-core kernels (see AttentionKernel in ops/cuda/attention.h).
bool use_tensor_cores(AttentionKernel kernel, DType dt, int64_t Dh,
                      std::initializer_list<const void*> pointers, const char* op) {
  const bool supported = tc_attention_supported(dt, Dh, pointers);
  switch (kernel) {
    case AttentionKernel::simt:
      return false;
    case AttentionKernel::tensor_core:
      LORY_CHECK(supported, op, ": the tensor-core kernel needs bf16, Dh 64 or 128, an sm_80+ GPU "
                 "and 16-byte aligned tensors; got dtype ", dtype_name(dt), ", Dh = ", Dh);
      return true;
    default: {
      const char* env = std::getenv("LORY_ATTENTION");
      return supported && !(env != nullptr && std::strcmp(env, "simt") == 0);
    }
  }
}

}  // namespace

void causal_attention_forward(DType dt, const void* q, const void* k, const void* v, void* out,
                              void* lse, int64_t BH, int64_t Lq, int64_t Lk, int64_t Dh,
                              AttentionKernel kernel) {
  if (BH == 0 || Lq == 0) return;
  LORY_CHECK(BH <= INT32_MAX && Lq <= 65535LL * kFwdRowsPerWarp * kWarps, "causal_attention: ", BH,
             " slices of ", Lq, " queries exceed the CUDA grid");
  if (use_tensor_cores(kernel, dt, Dh, {q, k, v, out}, "causal_attention")) {
    tc_attention_forward(q, k, v, out, static_cast<float*>(lse), BH, Lq, Lk, Dh);
    return;
  }
  dispatch(dt, Dh, "causal_attention", [&](auto zero, auto dmax) {
    using T = decltype(zero);
    dim3 grid(static_cast<unsigned>(BH), blocks(Lq, kFwdRowsPerWarp * kWarps));
    forward_kernel<T, decltype(dmax)::value><<<grid, kThreadsPerBlock>>>(
        static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v),
        static_cast<T*>(out), static_cast<float*>(lse), Lq, Lk, static_cast<int>(Dh),
        scale_for(Dh));
    CUDA_CHECK_LAUNCH();
  });
}

void causal_attention_backward(DType dt, const void* q, const void* k, const void* v,
                               const void* out, const void* lse, const void* dout, void* dq,
                               void* dk, void* dv, int64_t BH, int64_t Lq, int64_t Lk, int64_t Dh,
                               AttentionKernel kernel) {
  if (BH == 0 || Lk == 0) return;  // Lq == 0 with Lk > 0 still needs dk = dv = 0
  constexpr int kRowsPerBlock = kBwdRowsPerWarp * kWarps;
  LORY_CHECK(BH <= INT32_MAX && Lk <= 65535LL * kRowsPerBlock, "causal_attention backward: ", BH,
             " slices of ", Lk, " keys exceed the CUDA grid");
  const bool tc = use_tensor_cores(kernel, dt, Dh, {q, k, v, out, dout, dq, dk, dv},
                                   "causal_attention backward");
  dispatch(dt, Dh, "causal_attention backward", [&](auto zero, auto dmax) {
    using T = decltype(zero);
    constexpr int DMAX = decltype(dmax)::value;
    auto qs = static_cast<const T*>(q), ks = static_cast<const T*>(k),
         vs = static_cast<const T*>(v);
    auto dos = static_cast<const T*>(dout);
    auto lses = static_cast<const float*>(lse);
    int dh = static_cast<int>(Dh);
    float scale = scale_for(Dh);
    Scratch<float> delta(BH * Lq);
    if (Lq > 0) {
      row_dot_kernel<T><<<grid_for(BH * Lq * 32), kThreads>>>(dos, static_cast<const T*>(out),
                                                              delta.get(), BH * Lq, dh);
      CUDA_CHECK_LAUNCH();
    }
    if (tc) {
      tc_attention_backward(q, k, v, lses, delta.get(), dout, dq, dk, dv, BH, Lq, Lk, Dh);
      return;
    }
    if (Lq > 0) {
      dq_kernel<T, DMAX>
          <<<dim3(static_cast<unsigned>(BH), blocks(Lq, kRowsPerBlock)), kThreadsPerBlock>>>(
              qs, ks, vs, lses, delta.get(), dos, static_cast<T*>(dq), Lq, Lk, dh, scale);
      CUDA_CHECK_LAUNCH();
    }
    dkdv_kernel<T, DMAX>
        <<<dim3(static_cast<unsigned>(BH), blocks(Lk, kRowsPerBlock)), kThreadsPerBlock>>>(
            qs, ks, vs, lses, delta.get(), dos, static_cast<T*>(dk), static_cast<T*>(dv), Lq, Lk,
            dh, scale);
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace lory::ops::cuda
