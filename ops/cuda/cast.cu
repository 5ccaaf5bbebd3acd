// cast on the GPU: one element per thread (grid-stride), one rounding to the target as on the
// CPU (f64 -> bf16 goes through float, like the host conversion).
#include "core/cuda/device.cuh"
#include "ops/cuda/cast.h"

namespace lory::ops::cuda {
namespace {

using lory::cuda::to_acc;

template <typename D> struct Convert;
template <> struct Convert<float> {
  template <typename S> __device__ static float from(S x) { return static_cast<float>(to_acc(x)); }
};
template <> struct Convert<double> {
  template <typename S> __device__ static double from(S x) { return static_cast<double>(to_acc(x)); }
};
template <> struct Convert<__nv_bfloat16> {
  template <typename S> __device__ static __nv_bfloat16 from(S x) {
    return __float2bfloat16_rn(static_cast<float>(to_acc(x)));
  }
};

template <typename S, typename D>
__global__ void cast_kernel(const S* x, D* y, int64_t n) {
  LORY_GRID_STRIDE(i, n) y[i] = Convert<D>::from(x[i]);
}

}  // namespace

void cast(DType from, const void* x, DType to, void* y, int64_t n) {
  if (n == 0) return;
  lory::cuda::dispatch_cuda_float(from, "cast", [&](auto zs) {
    using S = decltype(zs);
    lory::cuda::dispatch_cuda_float(to, "cast", [&](auto zd) {
      using D = decltype(zd);
      cast_kernel<S, D><<<lory::cuda::grid_for(n), lory::cuda::kThreads>>>(
          static_cast<const S*>(x), static_cast<D*>(y), n);
    });
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace lory::ops::cuda
