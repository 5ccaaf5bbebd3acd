// rope CUDA kernels: a (L, Dh/2) table of cos and sin computed in double exactly as the CPU op
// computes its table, then one thread per rotated pair.
#include "ops/cuda/rope.h"
#include "core/cuda/device.cuh"

namespace lory::ops::cuda {
namespace {
using namespace lory::cuda;

// cos_t, sin_t (L, half): the angle (pos_offset + l) · theta^(-2i/Dh) in double, with the same
// expression as rope_tables in ops/rope.cpp (a float angle at position 10^5 would be off by
// ~0.01 rad), cast once to the compute type.
template <typename A>
__global__ void table_kernel(A* cos_t, A* sin_t, int64_t L, int64_t half, int64_t Dh,
                             int64_t pos_offset, double theta) {
  LORY_GRID_STRIDE(k, L * half) {
    int64_t l = k / half, i = k % half;
    double freq = pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(Dh));
    double angle = static_cast<double>(pos_offset + l) * freq;
    cos_t[k] = static_cast<A>(cos(angle));
    sin_t[k] = static_cast<A>(sin(angle));
  }
}

// x, y (BH, L, Dh); thread k handles pair i = k mod half of row k / half:
//   y_i = x_i cos - x_{i+half} sin,   y_{i+half} = x_{i+half} cos + x_i sin   (sin signed).
template <typename T>
__global__ void apply_kernel(const T* x, T* y, const acc_t<T>* cos_t, const acc_t<T>* sin_t,
                             int64_t rows, int64_t L, int64_t half, int direction) {
  using A = acc_t<T>;
  const A sign = static_cast<A>(direction);
  LORY_GRID_STRIDE(k, rows * half) {
    int64_t row = k / half, i = k % half;
    int64_t t = (row % L) * half + i;  // table index (l, i)
    const T* xr = x + row * 2 * half;
    T* yr = y + row * 2 * half;
    A x1 = to_acc(xr[i]), x2 = to_acc(xr[i + half]), c = cos_t[t], s = sign * sin_t[t];
    yr[i] = from_acc<T>(x1 * c - x2 * s);
    yr[i + half] = from_acc<T>(x2 * c + x1 * s);
  }
}

}  // namespace

void rope_apply(DType dt, const void* x, void* y, int64_t BH, int64_t L, int64_t Dh,
                int64_t pos_offset, double theta, int direction) {
  const int64_t half = Dh / 2;
  if (BH == 0 || L == 0 || half == 0) return;
  dispatch_cuda_float(dt, "rope", [&](auto zero) {
    using T = decltype(zero);
    using A = acc_t<T>;
    Scratch<A> table(2 * L * half);
    A* cos_t = table.get();
    A* sin_t = cos_t + L * half;
    table_kernel<A><<<grid_for(L * half), kThreads>>>(cos_t, sin_t, L, half, Dh, pos_offset, theta);
    CUDA_CHECK_LAUNCH();
    apply_kernel<T><<<grid_for(BH * L * half), kThreads>>>(
        static_cast<const T*>(x), static_cast<T*>(y), cos_t, sin_t, BH * L, L, half, direction);
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace lory::ops::cuda
