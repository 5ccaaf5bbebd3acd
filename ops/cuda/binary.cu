// add, sub, mul, div and add_scalar CUDA kernels: grid-stride maps, arithmetic in fp32 (f64 for
// f64). A broadcast operand is read at i mod m (its period in row-major order); the gradients'
// sums over repeats are ops::sum on the GPU (ops/cuda/reduce.cu), deterministic.
#include "core/cuda/device.cuh"
#include "ops/cuda/binary.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

template <typename A>
__device__ __forceinline__ A combine(Binary op, A u, A v) {
  switch (op) {
    case Binary::add: return u + v;
    case Binary::sub: return u - v;
    case Binary::mul: return u * v;
    case Binary::div: return u / v;
  }
  return u;
}

template <typename T>
__global__ void binary_kernel(Binary op, const T* big, const T* small, T* y, int64_t n, int64_t m,
                              bool small_is_b) {
  using A = acc_t<T>;
  LORY_GRID_STRIDE(i, n) {
    A u = to_acc(big[i]);
    A v = to_acc(small[m == n ? i : i % m]);
    y[i] = from_acc<T>(small_is_b ? combine(op, u, v) : combine(op, v, u));
  }
}

template <typename T>
__global__ void add_scalar_kernel(const T* x, T* y, int64_t n, acc_t<T> c) {
  LORY_GRID_STRIDE(i, n) y[i] = from_acc<T>(to_acc(x[i]) + c);
}

}  // namespace

void binary_forward(DType dt, Binary op, const void* big, const void* small, void* y, int64_t n,
                    int64_t m, bool small_is_b) {
  if (n == 0) return;
  dispatch_cuda_float(dt, "binary op", [&](auto zero) {
    using T = decltype(zero);
    binary_kernel<T><<<grid_for(n), kThreads>>>(op, static_cast<const T*>(big),
                                                static_cast<const T*>(small), static_cast<T*>(y),
                                                n, m, small_is_b);
  });
  CUDA_CHECK_LAUNCH();
}

void add_scalar_forward(DType dt, const void* x, void* y, int64_t n, double c) {
  if (n == 0) return;
  dispatch_cuda_float(dt, "add_scalar", [&](auto zero) {
    using T = decltype(zero);
    // The CPU adds T(c): for bf16 the constant stays in fp32, like the rest of the arithmetic.
    add_scalar_kernel<T><<<grid_for(n), kThreads>>>(static_cast<const T*>(x), static_cast<T*>(y),
                                                    n, static_cast<acc_t<T>>(c));
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace lory::ops::cuda
