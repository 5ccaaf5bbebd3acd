// causal_attention forward on bf16 tensor cores (WMMA 16×16×16, fp32 accumulators), flash-style
// with an online softmax over key tiles. Shared pieces in attention_tc.cuh; the backward (dQ and
// dK/dV kernels) in attention_tc_backward.cu.
#include "ops/cuda/attention_tc.cuh"

namespace lory::ops::cuda {
namespace {
using namespace tc;

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

}  // namespace lory::ops::cuda
