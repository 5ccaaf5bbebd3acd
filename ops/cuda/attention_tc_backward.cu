// causal_attention backward on bf16 tensor cores: a dQ kernel over query blocks and a dK/dV
// kernel over key blocks, both recomputing P from the saved log-sum-exp; no atomics. Shared
// pieces in attention_tc.cuh.
#include "ops/cuda/attention_tc.cuh"

namespace lory::ops::cuda {
namespace {
using namespace tc;

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

void tc_attention_backward(const void* q, const void* k, const void* v, const float* lse,
                           const float* delta, const void* dout, void* dq, void* dk, void* dv,
                           int64_t BH, int64_t Lq, int64_t Lk, int64_t Dh) {
  if (Dh == 64)
    backward<64>(q, k, v, lse, delta, dout, dq, dk, dv, BH, Lq, Lk);
  else
    backward<128>(q, k, v, lse, delta, dout, dq, dk, dv, BH, Lq, Lk);
}

}  // namespace lory::ops::cuda
