// segment_mean CUDA kernels: one thread per output element. Forward sums its segment's tokens
// in order (fp32) and scales by 1/count; backward broadcasts dy / count back to every token.
#include "core/cuda/device.cuh"
#include "ops/cuda/segment_mean.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

template <typename T>
__global__ void forward_kernel(const T* x, T* y, int64_t B, int64_t L, int64_t D, int64_t T_) {
  using A = acc_t<T>;
  const int64_t N = (L + T_ - 1) / T_;
  LORY_GRID_STRIDE(i, B * N * D) {
    int64_t row = i / D, j = i - row * D;
    int64_t b = row / N, k = row - b * N;
    int64_t t0 = k * T_, t1 = min(L, t0 + T_);
    A s = 0;
    for (int64_t t = t0; t < t1; ++t) s += to_acc(x[(b * L + t) * D + j]);
    y[i] = from_acc<T>(s * (A(1) / A(t1 - t0)));
  }
}

// dx[b, t] = dy[b, t / T] / c_{t / T}   (derivation in ops/segment_mean.cpp)
template <typename T>
__global__ void backward_kernel(const T* dy, T* dx, int64_t B, int64_t L, int64_t D, int64_t T_) {
  using A = acc_t<T>;
  const int64_t N = (L + T_ - 1) / T_;
  LORY_GRID_STRIDE(i, B * L * D) {
    int64_t row = i / D, j = i - row * D;
    int64_t b = row / L, k = (row - b * L) / T_;
    A inv = A(1) / A(min(L, (k + 1) * T_) - k * T_);
    dx[i] = from_acc<T>(to_acc(dy[(b * N + k) * D + j]) * inv);
  }
}

}  // namespace

void segment_mean_forward(DType dt, const void* x, void* y, int64_t B, int64_t L, int64_t D,
                          int64_t T) {
  const int64_t n = B * ((L + T - 1) / T) * D;
  if (n == 0) return;
  dispatch_cuda_float(dt, "segment_mean", [&](auto zero) {
    using S = decltype(zero);
    forward_kernel<S>
        <<<grid_for(n), kThreads>>>(static_cast<const S*>(x), static_cast<S*>(y), B, L, D, T);
  });
  CUDA_CHECK_LAUNCH();
}

void segment_mean_backward(DType dt, const void* dy, void* dx, int64_t B, int64_t L, int64_t D,
                           int64_t T) {
  const int64_t n = B * L * D;
  if (n == 0) return;
  dispatch_cuda_float(dt, "segment_mean backward", [&](auto zero) {
    using S = decltype(zero);
    backward_kernel<S>
        <<<grid_for(n), kThreads>>>(static_cast<const S*>(dy), static_cast<S*>(dx), B, L, D, T);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace lory::ops::cuda
