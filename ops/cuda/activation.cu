// silu and gelu CUDA kernels: grid-stride maps, arithmetic in fp32 (f64 for f64). Formulas and
// derivatives as in ops/activation.cpp:
//   silu = x s, s = 1 / (1 + e^-x),  silu' = s (1 + x (1 - s))
//   gelu = x Phi(x),                 gelu' = Phi(x) + x phi(x)
#include "core/cuda/device.cuh"
#include "ops/cuda/activation.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

// e^-x overflows to inf for very negative x: s = 1 / inf = 0, the right limit.
template <typename A>
__device__ __forceinline__ A sigmoid(A x) {
  return A(1) / (A(1) + exp(-x));
}

template <typename A>
__device__ __forceinline__ A value(bool is_silu, A x) {
  if (is_silu) return x * sigmoid(x);
  return A(0.5) * x * (A(1) + erf(x * A(kInvSqrt2)));
}

template <typename A>
__device__ __forceinline__ A derivative(bool is_silu, A x) {
  if (is_silu) {
    A s = sigmoid(x);
    return s * (A(1) + x * (A(1) - s));
  }
  A cdf = A(0.5) * (A(1) + erf(x * A(kInvSqrt2)));
  return cdf + x * A(kInvSqrt2Pi) * exp(A(-0.5) * x * x);
}

template <typename T>
__global__ void forward_kernel(bool is_silu, const T* x, T* y, int64_t n) {
  LORY_GRID_STRIDE(i, n) y[i] = from_acc<T>(value(is_silu, to_acc(x[i])));
}

template <typename T>
__global__ void backward_kernel(bool is_silu, const T* x, const T* dy, T* dx, int64_t n) {
  LORY_GRID_STRIDE(i, n) dx[i] = from_acc<T>(to_acc(dy[i]) * derivative(is_silu, to_acc(x[i])));
}

}  // namespace

void activation_forward(DType dt, bool is_silu, const void* x, void* y, int64_t n) {
  if (n == 0) return;
  dispatch_cuda_float(dt, is_silu ? "silu" : "gelu", [&](auto zero) {
    using T = decltype(zero);
    forward_kernel<T><<<grid_for(n), kThreads>>>(is_silu, static_cast<const T*>(x),
                                                 static_cast<T*>(y), n);
  });
  CUDA_CHECK_LAUNCH();
}

void activation_backward(DType dt, bool is_silu, const void* x, const void* dy, void* dx,
                         int64_t n) {
  if (n == 0) return;
  dispatch_cuda_float(dt, is_silu ? "silu backward" : "gelu backward", [&](auto zero) {
    using T = decltype(zero);
    backward_kernel<T><<<grid_for(n), kThreads>>>(is_silu, static_cast<const T*>(x),
                                                  static_cast<const T*>(dy), static_cast<T*>(dx), n);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace lory::ops::cuda
