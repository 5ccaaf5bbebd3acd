// swiglu CUDA kernels, fused: one grid-stride pass forward (y), one backward (da and db from a
// single sigmoid per element). Derivation in ops/swiglu.cpp.
#include "core/cuda/device.cuh"
#include "ops/cuda/swiglu.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

template <typename T>
__global__ void forward_kernel(const T* a, const T* b, T* y, int64_t n) {
  using A = acc_t<T>;
  LORY_GRID_STRIDE(i, n) {
    A av = to_acc(a[i]);
    A s = A(1) / (A(1) + exp(-av));
    y[i] = from_acc<T>(av * s * to_acc(b[i]));
  }
}

template <typename T>
__global__ void backward_kernel(const T* dy, const T* a, const T* b, T* da, T* db, int64_t n) {
  using A = acc_t<T>;
  LORY_GRID_STRIDE(i, n) {
    A g = to_acc(dy[i]), av = to_acc(a[i]);
    A s = A(1) / (A(1) + exp(-av));
    if (da) da[i] = from_acc<T>(g * to_acc(b[i]) * s * (A(1) + av * (A(1) - s)));
    if (db) db[i] = from_acc<T>(g * av * s);
  }
}

}  // namespace

void swiglu_forward(DType dt, const void* a, const void* b, void* y, int64_t n) {
  if (n == 0) return;
  dispatch_cuda_float(dt, "swiglu", [&](auto zero) {
    using T = decltype(zero);
    forward_kernel<T><<<grid_for(n), kThreads>>>(static_cast<const T*>(a), static_cast<const T*>(b),
                                                 static_cast<T*>(y), n);
  });
  CUDA_CHECK_LAUNCH();
}

void swiglu_backward(DType dt, const void* dy, const void* a, const void* b, void* da, void* db,
                     int64_t n) {
  if (n == 0 || (!da && !db)) return;
  dispatch_cuda_float(dt, "swiglu backward", [&](auto zero) {
    using T = decltype(zero);
    backward_kernel<T><<<grid_for(n), kThreads>>>(static_cast<const T*>(dy),
                                                  static_cast<const T*>(a),
                                                  static_cast<const T*>(b), static_cast<T*>(da),
                                                  static_cast<T*>(db), n);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace lory::ops::cuda
