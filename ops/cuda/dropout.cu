// dropout CUDA kernel: one Philox block per element (core/random.h), the same draw as the CPU,
// so a generator state gives the same mask on either device.
#include "core/cuda/device.cuh"
#include "core/random.h"
#include "ops/cuda/dropout.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

template <typename T>
__global__ void dropout_kernel(const T* in, T* out, int64_t n, double p, acc_t<T> keep_scale,
                               uint64_t seed, uint64_t first) {
  using A = acc_t<T>;
  LORY_GRID_STRIDE(i, n) {
    bool keep = uniform_at(seed, first + static_cast<uint64_t>(i)) >= p;
    out[i] = from_acc<T>(keep ? to_acc(in[i]) * keep_scale : A(0));
  }
}

}  // namespace

void dropout_apply(DType dt, const void* in, void* out, int64_t n, double p, uint64_t seed,
                   uint64_t first) {
  if (n == 0) return;
  dispatch_cuda_float(dt, "dropout", [&](auto zero) {
    using T = decltype(zero);
    // The CPU scales by T(1 / (1 - p)); in fp32 for bf16.
    auto keep_scale = static_cast<acc_t<T>>(1.0 / (1.0 - p));
    dropout_kernel<T><<<grid_for(n), kThreads>>>(static_cast<const T*>(in), static_cast<T*>(out), n,
                                                 p, keep_scale, seed, first);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace lory::ops::cuda
