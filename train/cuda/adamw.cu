// AdamW, sum of squares and scaling over lists of tensors on the GPU. Tensors are processed in
// chunks of kMaxTensors, passed by value as a kernel argument (no descriptor copies): blockIdx.y
// picks the tensor, blockIdx.x and threadIdx.x stride over its elements.
#include <vector>

#include "core/cuda/device.cuh"
#include "train/cuda/adamw.h"

namespace lory::cuda {
namespace {

constexpr int kMaxTensors = 32;
constexpr int kMaxBlocks = 1024;   // per tensor in AdamW and scaling (grid-stride beyond)
constexpr int kNormBlocks = 256;   // at most this many partial sums per tensor
constexpr int kSumThreads = 1024;  // the final ordered sum: one block

struct Chunk {
  void* x[kMaxTensors];
  const void* g[kMaxTensors];
  float* m[kMaxTensors];
  float* v[kMaxTensors];
  int64_t n[kMaxTensors];
  double wd[kMaxTensors];
  int64_t first_partial[kMaxTensors];  // sum_squares: where tensor k's partials start
  int blocks[kMaxTensors];             // sum_squares: how many partials tensor k writes
  int count = 0;
};

__device__ __forceinline__ double load_d(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ double load_d(const double* p, int64_t i) { return p[i]; }
__device__ __forceinline__ double load_d(const __nv_bfloat16* p, int64_t i) {
  return __bfloat162float(p[i]);
}
__device__ __forceinline__ void store_d(float* p, int64_t i, double v) { p[i] = static_cast<float>(v); }
__device__ __forceinline__ void store_d(double* p, int64_t i, double v) { p[i] = v; }
__device__ __forceinline__ void store_d(__nv_bfloat16* p, int64_t i, double v) {
  p[i] = __float2bfloat16_rn(static_cast<float>(v));  // through float, as the host conversion
}

// The CPU kernel's expressions, each operation rounded separately (_rn intrinsics are never
// contracted into FMAs).
template <typename T>
__global__ void adamw_kernel(Chunk c, double lr, double b1, double b2, double eps, double inv_c1,
                             double inv_sqrt_c2) {
  const int k = blockIdx.y;
  if (k >= c.count) return;
  T* p = static_cast<T*>(c.x[k]);
  const T* g = static_cast<const T*>(c.g[k]);
  float* m = c.m[k];
  float* v = c.v[k];
  const int64_t n = c.n[k];
  const double wd = c.wd[k];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const double gi = load_d(g, i);
    const float mi = static_cast<float>(__dadd_rn(__dmul_rn(b1, m[i]), __dmul_rn(1.0 - b1, gi)));
    const float vi = static_cast<float>(
        __dadd_rn(__dmul_rn(b2, v[i]), __dmul_rn(__dmul_rn(1.0 - b2, gi), gi)));
    m[i] = mi;
    v[i] = vi;
    const double pi = load_d(p, i);
    const double update =
        __dadd_rn(__ddiv_rn(__dmul_rn(mi, inv_c1),
                            __dadd_rn(__dmul_rn(__dsqrt_rn(static_cast<double>(vi)), inv_sqrt_c2), eps)),
                  __dmul_rn(wd, pi));
    store_d(p, i, __dsub_rn(pi, __dmul_rn(lr, update)));
  }
}

// Block b of tensor k sums the squares of elements b·blockDim + t + j·(blocks·blockDim), each
// thread in element order, then the block in a fixed tree: partials[first + b].
template <typename T>
__global__ void sum_squares_kernel(Chunk c, double* partials) {
  __shared__ double scratch[32];
  const int k = blockIdx.y;
  if (k >= c.count || static_cast<int>(blockIdx.x) >= c.blocks[k]) return;  // whole block
  const T* x = static_cast<const T*>(c.x[k]);
  const int64_t n = c.n[k], stride = int64_t(c.blocks[k]) * blockDim.x;
  double s = 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += stride) {
    const double xi = load_d(x, i);
    s = __dadd_rn(s, __dmul_rn(xi, xi));
  }
  s = block_sum(s, scratch);
  if (threadIdx.x == 0) partials[c.first_partial[k] + blockIdx.x] = s;
}

// One block: thread t adds partials t, t + blockDim, ... in order, then a fixed tree.
__global__ void ordered_sum_kernel(const double* partials, int64_t n, double* out) {
  __shared__ double scratch[32];
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s = __dadd_rn(s, partials[i]);
  s = block_sum(s, scratch);
  if (threadIdx.x == 0) *out = s;
}

template <typename T>
__global__ void scale_kernel(Chunk c, double s) {
  const int k = blockIdx.y;
  if (k >= c.count) return;
  T* x = static_cast<T*>(c.x[k]);
  const int64_t n = c.n[k];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    store_d(x, i, __dmul_rn(load_d(x, i), s));
}

int blocks_for(int64_t n, int cap) {
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>((n + kThreads - 1) / kThreads, cap)));
}

// Calls launch(chunk, max_blocks) for consecutive chunks of at most kMaxTensors tensors.
template <typename Fill, typename Launch>
void for_chunks(int count, Fill&& fill, Launch&& launch) {
  for (int start = 0; start < count; start += kMaxTensors) {
    Chunk c;
    c.count = std::min(kMaxTensors, count - start);
    for (int j = 0; j < c.count; ++j) fill(c, j, start + j);
    launch(c);
    CUDA_CHECK_LAUNCH();
  }
}

}  // namespace

void adamw_step(DType dt, int count, void* const* params, const void* const* grads,
                float* const* exp_avg, float* const* exp_avg_sq, const int64_t* numel,
                const double* weight_decay, double lr, double beta1, double beta2, double eps,
                double inv_c1, double inv_sqrt_c2) {
  dispatch_cuda_float(dt, "AdamW::step", [&](auto zero) {
    using T = decltype(zero);
    for_chunks(
        count,
        [&](Chunk& c, int j, int k) {
          c.x[j] = params[k];
          c.g[j] = grads[k];
          c.m[j] = exp_avg[k];
          c.v[j] = exp_avg_sq[k];
          c.n[j] = numel[k];
          c.wd[j] = weight_decay[k];
        },
        [&](const Chunk& c) {
          int bx = 1;
          for (int j = 0; j < c.count; ++j) bx = std::max(bx, blocks_for(c.n[j], kMaxBlocks));
          adamw_kernel<T><<<dim3(bx, c.count), kThreads>>>(c, lr, beta1, beta2, eps, inv_c1,
                                                           inv_sqrt_c2);
        });
  });
}

void sum_squares(DType dt, int count, const void* const* xs, const int64_t* numel, double* result) {
  *result = 0;
  if (count == 0) return;
  int64_t total = 0;  // partials over all tensors, in list order
  std::vector<int> blocks(count);
  for (int k = 0; k < count; ++k) {
    blocks[k] = blocks_for(numel[k], kNormBlocks);
    total += blocks[k];
  }
  Scratch<double> partials(total), out(1);
  dispatch_cuda_float(dt, "clip_grad_norm", [&](auto zero) {
    using T = decltype(zero);
    int64_t offset = 0;
    for_chunks(
        count,
        [&](Chunk& c, int j, int k) {
          c.x[j] = const_cast<void*>(xs[k]);
          c.n[j] = numel[k];
          c.blocks[j] = blocks[k];
          c.first_partial[j] = offset;
          offset += blocks[k];
        },
        [&](const Chunk& c) {
          int bx = 1;
          for (int j = 0; j < c.count; ++j) bx = std::max(bx, c.blocks[j]);
          sum_squares_kernel<T><<<dim3(bx, c.count), kThreads>>>(c, partials.get());
        });
  });
  ordered_sum_kernel<<<1, kSumThreads>>>(partials.get(), total, out.get());
  CUDA_CHECK_LAUNCH();
  CUDA_CHECK(cudaMemcpy(result, out.get(), sizeof(double), cudaMemcpyDeviceToHost));
}

void scale_tensors(DType dt, int count, void* const* xs, const int64_t* numel, double s) {
  dispatch_cuda_float(dt, "clip_grad_norm", [&](auto zero) {
    using T = decltype(zero);
    for_chunks(
        count,
        [&](Chunk& c, int j, int k) {
          c.x[j] = xs[k];
          c.n[j] = numel[k];
        },
        [&](const Chunk& c) {
          int bx = 1;
          for (int j = 0; j < c.count; ++j) bx = std::max(bx, blocks_for(c.n[j], kMaxBlocks));
          scale_kernel<T><<<dim3(bx, c.count), kThreads>>>(c, s);
        });
  });
}

}  // namespace lory::cuda
