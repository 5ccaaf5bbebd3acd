// scale_rows CUDA kernels: the scaling is a grid-stride map; the per-row dot products (ds) are
// one block per row, a block sum in a fixed order: deterministic, no atomics.
#include "core/cuda/device.cuh"
#include "ops/cuda/scale_rows.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

template <typename T>
__global__ void scale_rows_kernel(const T* x, const T* s, T* y, int64_t n, int64_t D) {
  LORY_GRID_STRIDE(i, n) y[i] = from_acc<T>(to_acc(s[i / D]) * to_acc(x[i]));
}

// Blocks loop over rows (the loop count is the same for every thread of a block, so the
// __syncthreads inside block_sum is reached by all of them).
template <typename T>
__global__ void row_dots_kernel(const T* a, const T* b, T* out, int64_t M, int64_t D) {
  using A = acc_t<T>;
  __shared__ A scratch[32];
  for (int64_t m = blockIdx.x; m < M; m += gridDim.x) {
    const T* ar = a + m * D;
    const T* br = b + m * D;
    A dot = 0;
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) dot += to_acc(ar[j]) * to_acc(br[j]);
    dot = block_sum(dot, scratch);
    if (threadIdx.x == 0) out[m] = from_acc<T>(dot);
  }
}

int row_threads(int64_t D) { return D >= 1024 ? 512 : D >= 256 ? 256 : 128; }

}  // namespace

void scale_rows_forward(DType dt, const void* x, const void* s, void* y, int64_t M, int64_t D) {
  int64_t n = M * D;
  if (n == 0) return;
  dispatch_cuda_float(dt, "scale_rows", [&](auto zero) {
    using T = decltype(zero);
    scale_rows_kernel<T><<<grid_for(n), kThreads>>>(static_cast<const T*>(x),
                                                    static_cast<const T*>(s), static_cast<T*>(y),
                                                    n, D);
  });
  CUDA_CHECK_LAUNCH();
}

void scale_rows_row_dots(DType dt, const void* a, const void* b, void* out, int64_t M, int64_t D) {
  if (M == 0) return;
  dispatch_cuda_float(dt, "scale_rows backward", [&](auto zero) {
    using T = decltype(zero);
    int blocks = static_cast<int>(std::min<int64_t>(M, 65535));
    row_dots_kernel<T><<<blocks, row_threads(D)>>>(static_cast<const T*>(a),
                                                   static_cast<const T*>(b), static_cast<T*>(out),
                                                   M, D);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace lory::ops::cuda
