// rmsnorm CUDA kernels: one block per row for y and dx (the row statistics are block sums);
// dweight as fixed row-block partial sums added in block order, so it is deterministic.
#include "core/cuda/device.cuh"
#include "ops/cuda/rmsnorm.h"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

constexpr int kRowBlock = 256;  // rows per dweight partial sum

template <typename T>
__global__ void forward_kernel(const T* x, const T* w, T* y, acc_t<T>* rstd, int64_t D, double eps) {
  using A = acc_t<T>;
  __shared__ A scratch[32];
  const T* xr = x + blockIdx.x * D;
  A ss = 0;
  for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
    A v = to_acc(xr[j]);
    ss += v * v;
  }
  ss = block_sum(ss, scratch);
  A rs = A(1) / sqrt(ss / A(D) + A(eps));
  if (threadIdx.x == 0) rstd[blockIdx.x] = rs;
  T* yr = y + blockIdx.x * D;
  for (int64_t j = threadIdx.x; j < D; j += blockDim.x) yr[j] = from_acc<T>(to_acc(xr[j]) * rs * to_acc(w[j]));
}

// dx_k = r · (dy_k w_k − x_k · r² · (1/D) Σ_j dy_j w_j x_j)   (derivation in ops/rmsnorm.cpp)
template <typename T>
__global__ void backward_dx_kernel(const T* x, const T* w, const acc_t<T>* rstd, const T* dy, T* dx,
                                   int64_t D) {
  using A = acc_t<T>;
  __shared__ A scratch[32];
  const T* xr = x + blockIdx.x * D;
  const T* dyr = dy + blockIdx.x * D;
  A dot = 0;
  for (int64_t j = threadIdx.x; j < D; j += blockDim.x) dot += to_acc(dyr[j]) * to_acc(w[j]) * to_acc(xr[j]);
  dot = block_sum(dot, scratch);
  A rs = rstd[blockIdx.x];
  A c = dot / A(D) * rs * rs;
  T* dxr = dx + blockIdx.x * D;
  for (int64_t j = threadIdx.x; j < D; j += blockDim.x)
    dxr[j] = from_acc<T>(rs * (to_acc(dyr[j]) * to_acc(w[j]) - to_acc(xr[j]) * c));
}

// partial[b][j] = Σ_{rows r in block b} dy[r][j] x[r][j] rstd[r]; grid (ceil(D/256), nblocks).
template <typename T>
__global__ void backward_dw_partial_kernel(const T* x, const acc_t<T>* rstd, const T* dy,
                                           acc_t<T>* partial, int64_t R, int64_t D) {
  using A = acc_t<T>;
  int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (j >= D) return;
  int64_t r0 = blockIdx.y * int64_t(kRowBlock), r1 = min(R, r0 + kRowBlock);
  A s = 0;
  for (int64_t r = r0; r < r1; ++r) s += to_acc(dy[r * D + j]) * to_acc(x[r * D + j]) * rstd[r];
  partial[blockIdx.y * D + j] = s;
}

template <typename T>
__global__ void sum_partials_kernel(const acc_t<T>* partial, T* dw, int64_t nblocks, int64_t D) {
  LORY_GRID_STRIDE(j, D) {
    acc_t<T> s = 0;
    for (int64_t b = 0; b < nblocks; ++b) s += partial[b * D + j];
    dw[j] = from_acc<T>(s);
  }
}

int row_threads(int64_t D) { return D >= 1024 ? 512 : D >= 256 ? 256 : 128; }

}  // namespace

void rmsnorm_forward(DType dt, const void* x, const void* w, void* y, void* rstd, int64_t R,
                     int64_t D, double eps) {
  if (R == 0) return;
  dispatch_cuda_float(dt, "rmsnorm", [&](auto zero) {
    using T = decltype(zero);
    forward_kernel<T><<<R, row_threads(D)>>>(static_cast<const T*>(x), static_cast<const T*>(w),
                                              static_cast<T*>(y), static_cast<acc_t<T>*>(rstd), D, eps);
  });
  CUDA_CHECK_LAUNCH();
}

void rmsnorm_backward(DType dt, const void* x, const void* w, const void* rstd, const void* dy,
                      void* dx, void* dw, int64_t R, int64_t D) {
  dispatch_cuda_float(dt, "rmsnorm backward", [&](auto zero) {
    using T = decltype(zero);
    using A = acc_t<T>;
    auto xs = static_cast<const T*>(x);
    auto rs = static_cast<const A*>(rstd);
    auto dys = static_cast<const T*>(dy);
    if (dx && R > 0) {
      backward_dx_kernel<T><<<R, row_threads(D)>>>(xs, static_cast<const T*>(w), rs, dys,
                                                   static_cast<T*>(dx), D);
      CUDA_CHECK_LAUNCH();
    }
    if (dw) {
      int64_t nblocks = (R + kRowBlock - 1) / kRowBlock;
      Scratch<A> scratch(nblocks * D);
      A* partial = scratch.get();
      if (nblocks > 0) {
        dim3 grid(static_cast<unsigned>((D + 255) / 256), static_cast<unsigned>(nblocks));
        backward_dw_partial_kernel<T><<<grid, 256>>>(xs, rs, dys, partial, R, D);
        CUDA_CHECK_LAUNCH();
      }
      sum_partials_kernel<T><<<grid_for(D), kThreads>>>(partial, static_cast<T*>(dw), nblocks, D);
      CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace lory::ops::cuda
