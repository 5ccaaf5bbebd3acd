// scale CUDA kernel: y = alpha x, a grid-stride map with alpha in the compute type (as the CPU
// uses T(alpha)).
#include "core/cuda/device.cuh"
#include "ops/cuda/scale.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

template <typename T>
__global__ void scale_kernel(const T* x, T* y, int64_t n, acc_t<T> alpha) {
  LORY_GRID_STRIDE(i, n) y[i] = from_acc<T>(alpha * to_acc(x[i]));
}

}  // namespace

void scale_forward(DType dt, const void* x, void* y, int64_t n, double alpha) {
  if (n == 0) return;
  dispatch_cuda_float(dt, "scale", [&](auto zero) {
    using T = decltype(zero);
    scale_kernel<T><<<grid_for(n), kThreads>>>(static_cast<const T*>(x), static_cast<T*>(y), n,
                                               static_cast<acc_t<T>>(alpha));
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace lory::ops::cuda
