// softmax / log_softmax CUDA kernels: one block per row. Forward: the row's max and Σ exp in one
// online pass, then one pass writing y. Backward: one block sum, then one pass writing dx.
#include "ops/cuda/row_softmax.cuh"
#include "ops/cuda/softmax.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

// softmax:      y_j = exp(x_j - m) / s
// log_softmax:  y_j = (x_j - m) - log s          with m, s from row_max_sumexp.
template <typename T>
__global__ void forward_kernel(const T* x, T* y, int64_t V, bool is_log) {
  using A = acc_t<T>;
  __shared__ A scratch[32];
  const T* xr = x + blockIdx.x * V;
  T* yr = y + blockIdx.x * V;
  A m, s;
  row_max_sumexp(xr, V, scratch, m, s);
  if (is_log) {
    A lse = log(s);
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x)
      yr[j] = from_acc<T>((to_acc(xr[j]) - m) - lse);
  } else {
    A inv = A(1) / s;
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x)
      yr[j] = from_acc<T>(exp(to_acc(xr[j]) - m) * inv);
  }
}

// softmax:      dx_k = y_k (dy_k - Σ_j dy_j y_j)
// log_softmax:  dx_k = dy_k - exp(y_k) Σ_j dy_j          (derivation in ops/softmax.cpp)
template <typename T>
__global__ void backward_kernel(const T* y, const T* dy, T* dx, int64_t V, bool is_log) {
  using A = acc_t<T>;
  __shared__ A scratch[32];
  const T* yr = y + blockIdx.x * V;
  const T* dyr = dy + blockIdx.x * V;
  T* dxr = dx + blockIdx.x * V;
  A acc = 0;
  for (int64_t j = threadIdx.x; j < V; j += blockDim.x)
    acc += is_log ? to_acc(dyr[j]) : to_acc(dyr[j]) * to_acc(yr[j]);
  acc = block_sum(acc, scratch);
  for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
    A yj = to_acc(yr[j]), dyj = to_acc(dyr[j]);
    dxr[j] = from_acc<T>(is_log ? dyj - exp(yj) * acc : yj * (dyj - acc));
  }
}

}  // namespace

void softmax_forward(DType dt, const void* x, void* y, int64_t R, int64_t V, bool log) {
  if (R == 0) return;
  dispatch_cuda_float(dt, log ? "log_softmax" : "softmax", [&](auto zero) {
    using T = decltype(zero);
    forward_kernel<T><<<R, softmax_row_threads(V)>>>(static_cast<const T*>(x),
                                                     static_cast<T*>(y), V, log);
  });
  CUDA_CHECK_LAUNCH();
}

void softmax_backward(DType dt, const void* y, const void* dy, void* dx, int64_t R, int64_t V,
                      bool log) {
  if (R == 0) return;
  dispatch_cuda_float(dt, "softmax backward", [&](auto zero) {
    using T = decltype(zero);
    backward_kernel<T><<<R, softmax_row_threads(V)>>>(
        static_cast<const T*>(y), static_cast<const T*>(dy), static_cast<T*>(dx), V, log);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace lory::ops::cuda
