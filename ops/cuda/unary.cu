// neg, exp, log, sqrt, square CUDA kernels: one grid-stride map per direction, arithmetic in
// fp32 (f64 for f64). The op is a kernel argument: the switch is uniform across the grid and
// costs nothing next to the memory traffic.
#include "core/cuda/device.cuh"
#include "ops/cuda/unary.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

template <typename T>
__global__ void forward_kernel(Unary op, const T* x, T* y, int64_t n) {
  using A = acc_t<T>;
  LORY_GRID_STRIDE(i, n) {
    A v = to_acc(x[i]), r = v;
    switch (op) {
      case Unary::neg: r = -v; break;
      case Unary::exp: r = exp(v); break;
      case Unary::log: r = log(v); break;
      case Unary::sqrt: r = sqrt(v); break;
      case Unary::square: r = v * v; break;
    }
    y[i] = from_acc<T>(r);
  }
}

// neg: dx = -dy; exp: dy y; log: dy / x; sqrt: dy / (2 y); square: 2 x dy  (s = y or x).
template <typename T>
__global__ void backward_kernel(Unary op, const T* dy, const T* s, T* dx, int64_t n) {
  using A = acc_t<T>;
  LORY_GRID_STRIDE(i, n) {
    A g = to_acc(dy[i]), r = g;
    switch (op) {
      case Unary::neg: r = -g; break;
      case Unary::exp: r = g * to_acc(s[i]); break;
      case Unary::log: r = g / to_acc(s[i]); break;
      case Unary::sqrt: r = g / (A(2) * to_acc(s[i])); break;
      case Unary::square: r = A(2) * to_acc(s[i]) * g; break;
    }
    dx[i] = from_acc<T>(r);
  }
}

}  // namespace

void unary_forward(DType dt, Unary op, const void* x, void* y, int64_t n) {
  if (n == 0) return;
  dispatch_cuda_float(dt, "unary", [&](auto zero) {
    using T = decltype(zero);
    forward_kernel<T><<<grid_for(n), kThreads>>>(op, static_cast<const T*>(x), static_cast<T*>(y), n);
  });
  CUDA_CHECK_LAUNCH();
}

void unary_backward(DType dt, Unary op, const void* dy, const void* s, void* dx, int64_t n) {
  if (n == 0) return;
  dispatch_cuda_float(dt, "unary backward", [&](auto zero) {
    using T = decltype(zero);
    backward_kernel<T><<<grid_for(n), kThreads>>>(op, static_cast<const T*>(dy),
                                                  static_cast<const T*>(s), static_cast<T*>(dx), n);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace lory::ops::cuda
